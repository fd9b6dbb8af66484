// Package provision holds the netboot services that bring a registered
// machine (engine/machines) from bare metal to sshd: TFTP today; DHCPv4
// and HTTP to follow. The services know no terminal: each request is
// reported through a callback the engine turns into events.
package provision

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// TFTP opcodes and error codes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6

	errNotDefined   = 0
	errNotFound     = 1
	errAccess       = 2
	errIllegalOp    = 4
	errUnknownTID   = 5
	errBadOption    = 8
	defaultBlksize  = 512
	maxBlksize      = 65464 // RFC 2348
	minBlksize      = 8
	maxRequestBytes = 1024 // an RRQ: a path, a mode and a few options
)

// TFTPServer serves the files of one boot directory, read-only (RFC 1350
// with the blksize, tsize and timeout options of RFC 2347/2348/2349).
// Paths are confined to Root: absolute paths, ".." and symlinks that
// lead out of it are refused.
type TFTPServer struct {
	Root string
	// Timeout is how long a block waits for its ACK before it is sent
	// again (default 1s); a client's timeout option may shorten or
	// lengthen it up to MaxTimeout (default 5s).
	Timeout    time.Duration
	MaxTimeout time.Duration
	// Retries is how often a block is sent again before the transfer is
	// given up (default 5).
	Retries int
	// OnRequest, when set, is called once per request when it ends.
	OnRequest func(TFTPRequest)
}

// TFTPRequest is one read request as it ended.
type TFTPRequest struct {
	Client  net.Addr
	File    string // as the client asked, escaped by whoever shows it
	Blksize int
	Bytes   int64 // sent and acknowledged
	Err     error // nil: the whole file was delivered
}

// Serve answers requests arriving on conn until ctx ends. Each transfer
// runs on its own socket (its TID) bound to conn's local address.
func (s *TFTPServer) Serve(ctx context.Context, conn net.PacketConn) error {
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return fmt.Errorf("tftp: boot directory: %v; give a directory that exists", err)
	}
	defer root.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	local, _ := conn.LocalAddr().(*net.UDPAddr)
	buf := make([]byte, maxRequestBytes)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tftp: %v", err)
		}
		pkt := append([]byte(nil), buf[:n]...)
		go s.transfer(ctx, root, local, from, pkt)
	}
}

// transfer answers one request from its own port.
func (s *TFTPServer) transfer(ctx context.Context, root *os.Root, local *net.UDPAddr, client net.Addr, pkt []byte) {
	la := &net.UDPAddr{}
	if local != nil {
		la.IP, la.Zone = local.IP, local.Zone
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		return
	}
	defer c.Close()
	t := &tftpTransfer{s: s, c: c, client: client, timeout: s.timeout(), blksize: defaultBlksize}
	req := TFTPRequest{Client: client}
	req.Err = t.run(ctx, root, pkt, &req)
	req.Blksize = t.blksize
	if s.OnRequest != nil {
		s.OnRequest(req)
	}
}

func (s *TFTPServer) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return time.Second
}

func (s *TFTPServer) maxTimeout() time.Duration {
	if s.MaxTimeout > 0 {
		return s.MaxTimeout
	}
	return 5 * time.Second
}

func (s *TFTPServer) retries() int {
	if s.Retries > 0 {
		return s.Retries
	}
	return 5
}

type tftpTransfer struct {
	s       *TFTPServer
	c       *net.UDPConn
	client  net.Addr
	timeout time.Duration
	blksize int
}

// ErrRefused is a request the server will not answer with data: a write,
// a path out of the boot directory, a file that is not there.
var ErrRefused = errors.New("refused")

func (t *tftpTransfer) fail(code uint16, msg string) error {
	b := binary.BigEndian.AppendUint16(nil, opERROR)
	b = binary.BigEndian.AppendUint16(b, code)
	b = append(append(b, msg...), 0)
	t.c.WriteTo(b, t.client)
	return fmt.Errorf("%w: %s", ErrRefused, msg)
}

func (t *tftpTransfer) run(ctx context.Context, root *os.Root, pkt []byte, req *TFTPRequest) error {
	if len(pkt) < 2 {
		return t.fail(errIllegalOp, "short packet")
	}
	switch op := binary.BigEndian.Uint16(pkt); op {
	case opRRQ:
	case opWRQ:
		return t.fail(errAccess, "read-only server: writes are refused")
	default:
		return t.fail(errIllegalOp, fmt.Sprintf("opcode %d is not a request", op))
	}
	fields := bytes.Split(pkt[2:], []byte{0})
	if len(fields) < 3 || len(fields[len(fields)-1]) != 0 {
		return t.fail(errIllegalOp, "malformed request")
	}
	fields = fields[:len(fields)-1]
	req.File = string(fields[0])
	if mode := strings.ToLower(string(fields[1])); mode != "octet" && mode != "netascii" {
		return t.fail(errIllegalOp, "mode "+mode+" is not supported; use octet")
	}
	name, err := confine(req.File)
	if err != nil {
		return t.fail(errAccess, err.Error())
	}
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return t.fail(errNotFound, "file not found")
		}
		// os.Root refuses a symlink that leads out of the directory.
		return t.fail(errAccess, "access violation: outside the boot directory or unreadable")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return t.fail(errAccess, "not a regular file")
	}
	oack := t.options(fields[2:], st.Size())
	if len(oack) > 0 {
		b := binary.BigEndian.AppendUint16(nil, opOACK)
		for _, kv := range oack {
			b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
		}
		if err := t.send(ctx, b, 0); err != nil {
			return err
		}
	}
	block := make([]byte, t.blksize)
	for n := uint16(1); ; n++ { // block numbers roll over past 65535
		k, err := io.ReadFull(f, block)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return t.fail(errNotDefined, "read error")
		}
		b := binary.BigEndian.AppendUint16(nil, opDATA)
		b = binary.BigEndian.AppendUint16(b, n)
		b = append(b, block[:k]...)
		if err := t.send(ctx, b, n); err != nil {
			return err
		}
		req.Bytes += int64(k)
		if k < t.blksize {
			return nil
		}
	}
}

// options answers the RFC 2347 options it knows; others are left out,
// which tells the client they were not taken.
func (t *tftpTransfer) options(kv [][]byte, size int64) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(kv); i += 2 {
		name, val := strings.ToLower(string(kv[i])), string(kv[i+1])
		n, err := strconv.Atoi(val)
		if err != nil {
			continue
		}
		switch name {
		case "blksize":
			t.blksize = min(max(n, minBlksize), maxBlksize)
			out = append(out, [2]string{"blksize", strconv.Itoa(t.blksize)})
		case "tsize":
			out = append(out, [2]string{"tsize", strconv.FormatInt(size, 10)})
		case "timeout":
			if n >= 1 && n <= 255 {
				t.timeout = min(time.Duration(n)*time.Second, t.s.maxTimeout())
				out = append(out, [2]string{"timeout", strconv.Itoa(int(t.timeout / time.Second))})
			}
		}
	}
	return out
}

// send sends one packet and waits for the ACK of block, sending again on
// each timeout, a bounded number of times.
func (t *tftpTransfer) send(ctx context.Context, pkt []byte, block uint16) error {
	ack := make([]byte, 516)
	for try := 0; try <= t.s.retries(); try++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := t.c.WriteTo(pkt, t.client); err != nil {
			return err
		}
		deadline := time.Now().Add(t.timeout)
		for {
			t.c.SetReadDeadline(deadline)
			n, from, err := t.c.ReadFrom(ack)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // send again
				}
				return err
			}
			if from.String() != t.client.String() {
				b := binary.BigEndian.AppendUint16(nil, opERROR)
				b = binary.BigEndian.AppendUint16(b, errUnknownTID)
				t.c.WriteTo(append(append(b, "unknown transfer ID"...), 0), from)
				continue
			}
			if n >= 4 && binary.BigEndian.Uint16(ack) == opERROR {
				return fmt.Errorf("client gave up: %s", strings.TrimRight(string(ack[4:n]), "\x00"))
			}
			if n >= 4 && binary.BigEndian.Uint16(ack) == opACK && binary.BigEndian.Uint16(ack[2:]) == block {
				return nil
			}
			// An older ACK (a duplicate): wait on, never answer it with
			// another copy (the Sorcerer's Apprentice bug).
		}
	}
	return fmt.Errorf("no ACK for block %d after %d tries of %s", block, t.s.retries()+1, t.timeout)
}

// confine turns a requested path into one relative to the boot
// directory, or says why it is refused.
func confine(p string) (string, error) {
	switch {
	case p == "":
		return "", errors.New("empty file name")
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return "", errors.New("absolute paths are refused: name a file inside the boot directory")
	case strings.ContainsRune(p, '\\') || strings.ContainsRune(p, 0):
		return "", errors.New("backslashes are refused: use '/'")
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", errors.New("'..' is refused: name a file inside the boot directory")
		}
	}
	return p, nil
}
