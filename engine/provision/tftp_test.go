package provision

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// busybox is the real TFTP client of these tests (Debian busybox-static).
func busybox(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox not installed (apt-get install busybox-static); CI must have it")
		}
		t.Skip("busybox not installed: apt-get install busybox-static")
	}
	return p
}

type tftpRig struct {
	root, port string
	mu         sync.Mutex
	reqs       []TFTPRequest
	done       chan TFTPRequest
}

func startTFTP(t *testing.T) *tftpRig {
	t.Helper()
	r := &tftpRig{root: t.TempDir(), done: make(chan TFTPRequest, 16)}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.port = strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	s := &TFTPServer{Root: r.root, Timeout: 200 * time.Millisecond, Retries: 3, OnRequest: func(q TFTPRequest) { r.done <- q }}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

// get fetches file with busybox tftp; blksize 0 asks for none.
func (r *tftpRig) get(t *testing.T, file string, blksize int) ([]byte, error, TFTPRequest) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "got")
	args := []string{"tftp", "-g", "-r", file, "-l", out}
	if blksize > 0 {
		args = append(args, "-b", strconv.Itoa(blksize))
	}
	msg, err := exec.Command(busybox(t), append(args, "127.0.0.1", r.port)...).CombinedOutput()
	q := <-r.done
	if err != nil {
		return nil, errors.New(string(msg)), q
	}
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return data, nil, q
}

func TestTFTPFetchWithBlksize(t *testing.T) {
	r := startTFTP(t)
	busybox(t)
	if err := os.MkdirAll(filepath.Join(r.root, "ipxe"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		size    int
		blksize int
	}{
		{"ipxe/undionly.kpxe", 70_000, 1024}, // many blocks, a short last one
		{"exact", 2048, 1024},                // a multiple of blksize: an empty last block
		{"small", 100, 0},                    // no options: RFC 1350's 512
		{"empty", 0, 1468},
	} {
		want := bytes.Repeat([]byte{byte(c.size)}, c.size)
		for i := range want {
			want[i] = byte(i * 7)
		}
		if err := os.WriteFile(filepath.Join(r.root, c.name), want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err, q := r.get(t, c.name, c.blksize)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: got %d bytes, want %d: %v", c.name, len(got), len(want), err)
		}
		wantBlk := c.blksize
		if wantBlk == 0 {
			wantBlk = 512
		}
		if q.Err != nil || q.Blksize != wantBlk || q.Bytes != int64(c.size) || q.File != c.name {
			t.Errorf("%s: request %+v, want blksize %d and %d bytes", c.name, q, wantBlk, c.size)
		}
	}
}

func TestTFTPRefusesOutsideAndWrites(t *testing.T) {
	r := startTFTP(t)
	bb := busybox(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("not for netboot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(r.root, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(filepath.Dir(secret)), filepath.Join(r.root, "dir-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(r.root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"../" + filepath.Base(secret), "sub/../../x", secret, "/etc/passwd", "link-out", "dir-out/secret", "sub", "missing"} {
		_, err, q := r.get(t, file, 1024)
		if err == nil || !errors.Is(q.Err, ErrRefused) || q.Bytes != 0 {
			t.Errorf("%q: client %v, server %+v: want refused with nothing sent", file, err, q)
		}
	}
	// A write request is refused: the server is read-only.
	src := filepath.Join(t.TempDir(), "up")
	os.WriteFile(src, []byte("x"), 0o644)
	if out, err := exec.Command(bb, "tftp", "-p", "-l", src, "-r", "up", "127.0.0.1", r.port).CombinedOutput(); err == nil {
		t.Errorf("put accepted: %s", out)
	}
	if q := <-r.done; !errors.Is(q.Err, ErrRefused) {
		t.Errorf("put: %+v", q)
	}
	if _, err := os.Stat(filepath.Join(r.root, "up")); err == nil {
		t.Error("a put wrote into the boot directory")
	}
}

// TestTFTPGivesUpOnSilentClient: a client that asks and never ACKs costs
// a bounded number of retransmits, then the transfer ends.
func TestTFTPGivesUpOnSilentClient(t *testing.T) {
	r := startTFTP(t)
	os.WriteFile(filepath.Join(r.root, "f"), make([]byte, 5000), 0o644)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port, _ := strconv.Atoi(r.port)
	c.WriteTo([]byte("\x00\x01f\x00octet\x00"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	q := <-r.done
	if q.Err == nil || q.Bytes != 0 {
		t.Fatalf("silent client: %+v", q)
	}
	got := 0
	buf := make([]byte, 600)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		if _, _, err := c.ReadFrom(buf); err != nil {
			break
		}
		got++
	}
	if got != 4 { // the first send and 3 retries
		t.Errorf("block 1 sent %d times, want 4", got)
	}
}
