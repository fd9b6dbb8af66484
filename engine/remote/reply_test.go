package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lines that made the old parsers panic or pass garbage on.
func TestReplyParserRefusesMalformedLines(t *testing.T) {
	req := ProbeRequest{Paths: []string{"/a"}}
	for _, in := range []string{
		"E \nEND\n", "U 0\nEND\n", "E 5 1\nEND\n", "U -1 0\nEND\n", "E 0 1\nT regular file|x|644|root|root\nEND\n",
		"H xyz\nEND\n", "F hostname a\nF shoe b\nEND\n", "S-BEGIN\nF hostname x\nS-END\nEND\n", "S x\nEND\n",
		"END\nE 0 1\n", "E 0 1\nEND", "WAT\nEND\n", "U 0 999\nEND\n", "E 0 1\nT a|1|99999|root|root\nEND\n",
		"E 0 1\nT a|1|644|ro ot|root\nEND\n", "E 0 0\nH " + strings.Repeat("a", 64) + "\nEND\n",
	} {
		if _, err := parseProbe([]byte(in), req); err == nil {
			t.Errorf("parseProbe(%q): no error", in)
		}
	}
	for _, in := range []string{"C 0 !!!\nEND\n", "C 1 -\nEND\n", "C 0\nEND\n", "R 1 ok 0 0 -\nEND\n"} {
		if _, err := parseFetch([]byte(in), []string{"/a"}); err == nil {
			t.Errorf("parseFetch(%q): no error", in)
		}
	}
	b := &Bundle{ExpectPaths: []PathInfo{{Path: "/a"}}}
	for _, in := range []string{"R 1 ok 0 0\nEND 1\n", "R 1 exploded 0 0 -\n", "R x ok 0 0 -\n", "R 1 ok 0 0 %%%\n",
		"STALE appeared 3\n", "STALE wat\n", "STALE meta x\n", "BUSY 12 13\n", "END x\n", "END 1 zz\n", "E 0 1\n", "END 0\nR 1 ok 0 0 -\n"} {
		var res ApplyResult
		if _, err := readApplyReply(strings.NewReader(in), Target{Name: "h"}, b, &res, nil); err == nil {
			t.Errorf("readApplyReply(%q): no error", in)
		}
	}
}

func TestReplyFreeTextIsEscaped(t *testing.T) {
	res, err := parseProbe([]byte("F hostname evil\x1b[2Jhost\\x\xff\nF os \"Debian\"\nEND\n"), ProbeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts.Hostname != `evil\x1b[2Jhost\\x\xff` || res.Facts.OS != "Debian" {
		t.Errorf("facts = %+v", res.Facts)
	}
	var ar ApplyResult
	end, err := readApplyReply(strings.NewReader("STALE branch we\x07b\n"), Target{}, &Bundle{ExpectBranch: "main"}, &ar, nil)
	if err != nil || !end || ar.Stale != `host is on branch we\x07b, the plan expected main` {
		t.Errorf("stale = %q %v", ar.Stale, err)
	}
}

func TestReplyLineCap(t *testing.T) {
	long := "F hostname " + strings.Repeat("x", MaxReplyLine+10) + "\nEND\n"
	if _, err := parseProbe([]byte(long), ProbeRequest{}); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long line: %v", err)
	}
	fact := "F hostname " + strings.Repeat("x", 2000) + "\nEND\n"
	if _, err := parseProbe([]byte(fact), ProbeRequest{}); err == nil || !strings.Contains(err.Error(), "1 KiB") {
		t.Errorf("long fact: %v", err)
	}
}

// floodRunner answers every step with endless output, as a hostile or
// broken host could.
type floodRunner struct{ sent *int64 }

func (f floodRunner) Run(ctx context.Context, t Target, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	line := []byte(strings.Repeat("F hostname xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 1000))
	for {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		if _, err := stdout.Write(line); err != nil {
			return -1, err
		}
		*f.sent += int64(len(line))
		if *f.sent > 1<<30 {
			return 0, nil
		}
	}
}

// TestReplyCapEndsTheStep: a host that sends 1 GiB fails the step once the
// cap is reached, without reading (or keeping) the rest.
func TestReplyCapEndsTheStep(t *testing.T) {
	for _, step := range []string{"probe", "fetch", "apply"} {
		var sent int64
		st := &Steps{R: floodRunner{sent: &sent}}
		var err error
		switch step {
		case "probe":
			_, err = st.Probe(context.Background(), Target{Name: "h"}, ProbeRequest{StateDir: "/x"})
		case "fetch":
			_, err = st.Fetch(context.Background(), Target{Name: "h"}, []string{"/a"})
		case "apply":
			_, err = st.Apply(context.Background(), Target{Name: "h"}, &Bundle{StateDir: "/x"}, nil)
		}
		if !errors.Is(err, errReplyTooLarge) {
			t.Errorf("%s: err = %v, want the reply cap", step, err)
		}
		if sent > 8<<20 {
			t.Errorf("%s: read %d bytes before stopping", step, sent)
		}
	}
}

func TestCapWriterAtTheLimit(t *testing.T) {
	var b bytes.Buffer
	n := 0
	w := &capWriter{w: &b, limit: 10, over: func() { n++ }}
	fmt.Fprint(w, "0123456789")
	if w.tooLarge() || b.String() != "0123456789" {
		t.Fatalf("at the limit: %q %v", b.String(), w.tooLarge())
	}
	fmt.Fprint(w, "x")
	fmt.Fprint(w, "y")
	if !w.tooLarge() || n != 1 || b.Len() != 10 {
		t.Errorf("past the limit: %q over=%d", b.String(), n)
	}
}

// replySeeds runs the real programs with the machine's sh and returns
// their replies: every shape the programs emit, for the fuzz corpus.
func replySeeds(t testing.TB) [][]byte {
	dir := t.TempDir()
	sd := filepath.Join(dir, "state")
	f1 := filepath.Join(dir, "f")
	os.WriteFile(f1, []byte("hello\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	var seeds [][]byte
	run := func(text string) {
		var out bytes.Buffer
		localRunner{}.Run(context.Background(), Target{}, remoteShell, strings.NewReader(text), &out, io.Discard)
		seeds = append(seeds, append([]byte(nil), out.Bytes()...))
	}
	h := sum([]byte("1"))
	b := &Bundle{StateDir: sd, Branch: "main", Entries: []BundleEntry{
		{Seq: 1, Hash: h, Op: OpFile, Path: filepath.Join(dir, "g"), Content: []byte("x"), Mode: 0o644},
		{Seq: 2, Hash: h, Op: OpExec, Command: "echo out; echo err >&2"},
		{Seq: 3, Hash: h, Op: OpExec, Command: "false", Unless: "true"},
		{Seq: 4, Hash: h, Op: OpRemove, Path: filepath.Join(dir, "g")},
		{Seq: 5, Hash: h, Op: OpExec, Command: "exit 3"},
	}}
	text, _ := applyProgram(b, "t1")
	run(text)
	text, _ = applyProgram(&Bundle{StateDir: sd, Branch: "main", Entries: []BundleEntry{{Seq: 5, Op: OpReboot}}, ExpectPosition: 4, ExpectHash: h, ExpectBranch: "main"}, "t2")
	run(text)
	text, _ = applyProgram(&Bundle{StateDir: sd, Branch: "main"}, "t3") // stale: position
	run(text)
	text, _ = applyProgram(&Bundle{StateDir: sd, Branch: "web", ExpectBranch: "web", ExpectPosition: 4, ExpectHash: h}, "t4") // stale: branch
	run(text)
	text, _ = applyProgram(&Bundle{StateDir: sd, Branch: "main", ExpectBranch: "main", ExpectPosition: 4, ExpectHash: h,
		ExpectPaths: []PathInfo{{Path: f1}}}, "t5") // stale: appeared
	run(text)
	text, _ = probeProgram(ProbeRequest{StateDir: sd, Paths: []string{f1, filepath.Join(dir, "d"), filepath.Join(dir, "none")}})
	run(text)
	text, _ = probeProgram(ProbeRequest{StateDir: dir}) // state path is a directory? no: dir/state is
	run(text)
	text, _ = fetchProgram([]string{f1, filepath.Join(dir, "d")})
	run(text)
	seeds = append(seeds, []byte("BUSY 123\n"), []byte("STALE meta\n"), []byte("STALE content\n"), []byte("S-NOTFILE\nEND\n"),
		[]byte("E \nU 0\n"), []byte("STALE removed 0\nEND\n"),
		[]byte("R 6 rebooting 0 2 -\nEND 6 "+h+"\n"), []byte("R 7 cancelled 0 0 -\nEND 6 "+h+"\n"), []byte("END 0 \n"))
	return seeds
}

// FuzzReply feeds arbitrary bytes to every step's reply decoder: none may
// panic, and an accepted probe reply must be self-consistent.
func FuzzReply(f *testing.F) {
	for _, s := range replySeeds(f) {
		f.Add(s)
	}
	req := ProbeRequest{Paths: []string{"/a", "/b", "/c"}}
	b := &Bundle{ExpectPaths: []PathInfo{{Path: "/a"}, {Path: "/b"}}, ExpectBranch: "main"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if res, err := parseProbe(data, req); err == nil {
			if len(res.Paths) != len(req.Paths) {
				t.Fatalf("accepted probe has %d paths", len(res.Paths))
			}
			for _, p := range res.Paths {
				if p.Type == "file" && !isHex64(p.Hash) {
					t.Fatalf("file without a hash: %+v", p)
				}
			}
		}
		if got, err := parseFetch(data, req.Paths); err == nil {
			for _, c := range got {
				if len(c) > MaxFetch {
					t.Fatalf("fetched %d bytes", len(c))
				}
			}
		}
		var res ApplyResult
		readApplyReply(bytes.NewReader(data), Target{}, b, &res, nil)
		for _, e := range res.Entries {
			if len(e.Output) > maxOutput+3 {
				t.Fatalf("output of %d bytes", len(e.Output))
			}
		}
	})
}

// TestWriteReplyCorpus refreshes testdata/fuzz/FuzzReply from the real
// programs' replies when DISCOTERM_WRITE_CORPUS=1 (after a script's
// output changes); the corpus is kept in git.
func TestWriteReplyCorpus(t *testing.T) {
	if os.Getenv("DISCOTERM_WRITE_CORPUS") != "1" {
		t.Skip("set DISCOTERM_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReply")
	must(t, os.MkdirAll(dir, 0o755))
	for i, s := range replySeeds(t) {
		t.Logf("seed %d:\n%s", i, s)
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644))
	}
	sdir := filepath.Join("testdata", "fuzz", "FuzzParseState")
	must(t, os.MkdirAll(sdir, 0o755))
	h := strings.Repeat("a", 64)
	for i, s := range []string{"# discoterm state v1\nbranch main\nposition 0\nhash \n",
		"# discoterm state v1\nbranch main\nposition 2\nhash " + h + "\napplied 1 " + h + " 1700000000 12 ok\napplied 2 " + h + " 1700000001 3 ok\n",
		"# discoterm state v1\nbranch \nposition 0\n# comment\n\n"} {
		must(t, os.WriteFile(filepath.Join(sdir, fmt.Sprintf("seed-%02d", i)), []byte(fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)), 0o644))
	}
}

// TestProbeReadsSha256sumLines: probe.sh passes sha256sum's own lines on
// (no shell loop over them): the hash is read, with or without the
// backslash sha256sum puts before an escaped name, and the name is not.
func TestProbeReadsSha256sumLines(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	req := ProbeRequest{Paths: []string{"/x", "/y\nEND"}}
	in := "E 0 1\nE 1 1\nT regular file|1|644|root|root\nT regular file|1|600|root|root\n" +
		a + "  /x\n\\" + b + "  /y\\nEND\nEND\n"
	res, err := parseProbe([]byte(in), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Paths["/x"].Hash != a || res.Paths["/y\nEND"].Hash != b {
		t.Errorf("hashes = %+v", res.Paths)
	}
	for _, bad := range []string{strings.Repeat("a", 63) + "  /x\n", strings.Repeat("g", 64) + "  /x\n", "\\\\" + a + "  /x\n"} {
		if _, err := parseProbe([]byte("E 0 1\nE 1 0\nT regular file|1|644|root|root\n"+bad+"END\n"), req); err == nil {
			t.Errorf("parseProbe(%q): no error", bad)
		}
	}
}
