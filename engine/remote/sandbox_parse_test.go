package remote

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// report is one chunk as sb_chunk sends it: its length, then its bytes.
func report(parts ...string) string {
	b := strings.Join(parts, "\x00")
	return fmt.Sprintf("%d\n%s", len(b), b)
}

func TestParseSandboxReport(t *testing.T) {
	b := report("O", "5", "P", "/etc/a", "-", "81a4 600 root root 4 0 0 81a4 644 root root 3 0 0", "A", "4", "L", "3", "P", "/etc/gone", "-",
		"2000 0 root root 0 0 0 81a4 644 root root 0 0 0", "L", "0", "P", "/etc/l", "-", "a1ff 777 root root 2 0 0 - - - - - - -", "T",
		"D", "/x", "new\nold"+"hello"+"END")
	out := "G 3 u 1\nX 3 0 -\nB 3 " + b + "\nEND\n"
	res, err := ParseSandbox([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := res.Exec(3)
	if !ok || !r.Ran || r.Guard != "unless" || r.UnlessCode != 1 || string(r.Output) != "hello" || len(r.Effects) != 3 {
		t.Fatalf("%+v", r)
	}
	a := r.Effects[0]
	if string(a.After.Content) != "new\n" || string(a.Before.Content) != "old" || a.After.Mode != 0o600 || a.Before.Mode != 0o644 || a.Deleted {
		t.Errorf("modified: %+v", a)
	}
	if g := r.Effects[1]; !g.Deleted || g.After.Exists || !g.Before.Exists {
		t.Errorf("whiteout: %+v", g)
	}
	if l := r.Effects[2]; l.After.Type != "symlink" || l.After.Target != "/x" || l.Before.Exists {
		t.Errorf("symlink: %+v", l)
	}
}

func TestParseSandboxRejects(t *testing.T) {
	for _, out := range []string{
		"",                         // no END
		"G 1 r\nEND\nG 2 r\n",      // after END
		"X 1 0 -\nEND\n",           // result without its G line
		"G 2 r\nG 1 r\nEND\n",      // out of order
		"G 1 r\nX 1 0 huge\nEND\n", // unknown cap
		"G 1 r\nB 1 " + report("P", "rel", "-", "81a4 644 root root 0 0 0 - - - - - - -", "D", "END") + "\nEND\n",
		"G 1 r\nB 1 " + report("A", "5", "D", "helloEND") + "\nEND\n",
		// data that does not end where its records say: a file changed
		"G 1 r\nB 1 " + report("P", "/a", "-", "81a4 644 root root 3 0 0 - - - - - - -", "A", "3", "D", "abcdEND") + "\nEND\n",
		"Z\nEND\n",
		"S 0 L2V0Yw==\nEND\n",               // stopped before nothing
		"S 2 L2V0Yw==\nS 3 L2V0Yw==\nEND\n", // stopped twice
		"S 2 !!\nEND\n",                     // not base64
	} {
		if _, err := ParseSandbox([]byte(out)); err == nil {
			t.Errorf("accepted %q", out)
		}
	}
	// Unavailable: the reason is shown with controls removed.
	res, err := ParseSandbox([]byte("N overlay " + base64.StdEncoding.EncodeToString([]byte("no\x1b[31m overlay")) + "\nEND\n"))
	if err != nil || strings.ContainsRune(res.Unavailable, 0x1b) || !strings.Contains(res.Unavailable, "overlayfs") {
		t.Fatalf("%v %q", err, res.Unavailable)
	}
}

// A stop names the path from the host without its controls.
func TestParseSandboxStopped(t *testing.T) {
	res, err := ParseSandbox([]byte("G 1 r\nX 1 0 -\nS 2 " + base64.StdEncoding.EncodeToString([]byte("/etc/ld.so.preload\x1b]0;x\a")) + "\nEND\n"))
	if err != nil || res.Stopped != 2 || !strings.Contains(res.StopReason, "/etc/ld.so.preload") || strings.ContainsAny(res.StopReason, "\x1b\a") {
		t.Fatalf("%v %d %q", err, res.Stopped, res.StopReason)
	}
}

// A report cut at its cap ends the list; it is not an error.
func TestParseSandboxTruncatedReport(t *testing.T) {
	full := "P\x00/a\x00-\x0081a4 644 root root 10 0 0 - - - - - - -\x00A\x0010\x00D\x000123"
	res, err := ParseSandbox([]byte("G 1 r\nX 1 0 -\nB 1 " + fmt.Sprintf("%d\n%s", len(full), full) + "\nEND\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Execs[0]; !r.Truncated || len(r.Effects) != 1 || r.Effects[0].Complete {
		t.Fatalf("%+v", r)
	}
}

func FuzzParseSandbox(f *testing.F) {
	f.Add([]byte("G 3 u 1\nX 3 0 -\nB 3 " + report("O", "2", "P", "/etc/a", "-", "81a4 600 root root 4 0 0 81a4 644 root root 3 0 0", "A", "4", "L", "3", "a", "D", "0000000000000000000000000000000000000000000000000000000000000000  x\nnew\noldhiEND") + "\nEND\n"))
	f.Add([]byte("U 1\nEND\n"))
	f.Add([]byte("N mount bm8=\nEND\n"))
	f.Add([]byte("M L2Eb\nG 1 -\nX 1 137 time\nB 1 0\n\nF 2 1 eA==\nEND\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := ParseSandbox(b)
		if err != nil {
			return
		}
		for _, r := range res.Execs {
			if len(r.Output) > OutputShown+3 {
				t.Fatalf("output of %d bytes", len(r.Output))
			}
			for _, e := range r.Effects {
				if !strings.HasPrefix(e.Path, "/") || len(e.After.Content) > ContentMax || len(e.Before.Content) > ContentMax {
					t.Fatalf("effect %q", e.Path)
				}
			}
		}
	})
}
