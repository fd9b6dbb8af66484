package remote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// samplePrograms builds one program of every step with arguments full of
// shell metacharacters.
func samplePrograms(t *testing.T) map[string]string {
	t.Helper()
	nasty := "/srv/$(touch /tmp/pwned)`id`'\"\n-x ;|&"
	probe, err := probeProgram(ProbeRequest{StateDir: "/var/lib/discoterm", Paths: []string{"/etc/motd", nasty}})
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := fetchProgram([]string{"/etc/motd", nasty})
	if err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("a", 64)
	apply, err := applyProgram(&Bundle{StateDir: "/var/lib/discoterm", Branch: "main", ExpectBranch: "old", ExpectPosition: 1, ExpectHash: h,
		ExpectPaths: []PathInfo{{Path: nasty, Exists: true, Type: "file", Hash: h, Mode: 0o644, Owner: "root", Group: "root"}, {Path: "/x"}},
		Env:         map[string]string{"NTP": nasty},
		Entries: []BundleEntry{
			{Seq: 2, Hash: h, Op: OpFile, Path: nasty, Content: []byte(nasty), Mode: 0o755, Owner: "-u", Group: "-g"},
			{Seq: 3, Hash: h, Op: OpFile, Path: "/bin/x", Content: []byte{0, 1, 2}},
			{Seq: 4, Hash: h, Op: OpExec, Command: nasty, Creates: nasty, Unless: nasty},
			{Seq: 5, Hash: h, Op: OpRemove, Path: nasty},
			{Seq: 6, Hash: h, Op: OpReboot},
		}}, "0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	p := newProgram(cancelFiles)
	p.call("cancel", "/var/lib/discoterm", "0123456789abcdef")
	cancel, err := p.text()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"probe": probe, "fetch": fetch, "apply": apply, "cancel": cancel}
}

// TestScriptsParse runs sh -n on every .sh file and every program as sent,
// so a syntax error fails `make test`, not a push.
func TestScriptsParse(t *testing.T) {
	names, err := filepath.Glob("*.sh")
	if err != nil || len(names) == 0 {
		t.Fatalf("no .sh files: %v", err)
	}
	for _, n := range names {
		if out, err := exec.Command("sh", "-n", n).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", n, err, out)
		}
	}
	for name, text := range samplePrograms(t) {
		c := exec.Command("sh", "-n")
		c.Stdin = strings.NewReader(text)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("sh -n on the %s program: %v\n%s", name, err, out)
		}
	}
}

// TestScriptsShellcheck lints each program's files as one script (they
// share variables), as `make lint` does.
func TestScriptsShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (Debian package shellcheck; make deps installs it)")
	}
	for name, files := range programs {
		c := exec.Command("shellcheck", "-s", "sh", "-")
		c.Stdin = strings.NewReader(sourceOf(files))
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("shellcheck on the %s program (%s): %v\n%s", name, strings.Join(files, " "), err, out)
		}
	}
}

var (
	shFunc    = regexp.MustCompile(`(?m)^([a-z_]+)\(\) \{`)
	callShape = regexp.MustCompile(`^[a-z_]+( '([^']|'\\'')*')*\n`)
)

// TestProgramsAreOnlyCalls checks the one quoting rule by construction:
// after the library, a program is nothing but calls of functions its own
// files define, each argument one single-quoted word.
func TestProgramsAreOnlyCalls(t *testing.T) {
	for name, text := range samplePrograms(t) {
		lib := "main() {\n" + library(programs[name])
		if !strings.HasPrefix(text, lib) || !strings.HasSuffix(text, "}\nmain\n") {
			t.Fatalf("%s: not library + calls + main", name)
		}
		defined := map[string]bool{}
		for _, m := range shFunc.FindAllStringSubmatch(lib, -1) {
			defined[m[1]] = true
		}
		rest := strings.TrimSuffix(text[len(lib):], "}\nmain\n")
		calls := 0
		for rest != "" {
			m := callShape.FindString(rest)
			if m == "" {
				t.Fatalf("%s: not a call of quoted words: %q", name, trunc(rest, 120))
			}
			fn := m[:strings.IndexAny(m, " \n")]
			if !defined[fn] {
				t.Errorf("%s calls %s, which %v do not define", name, fn, programs[name])
			}
			rest = rest[len(m):]
			calls++
		}
		if calls == 0 {
			t.Errorf("%s: no calls", name)
		}
	}
}

// TestInjectionLandsLiterally runs apply, probe and fetch with the
// machine's sh on paths, contents, owners, commands and guards made of
// shell metacharacters: each is data.
func TestInjectionLandsLiterally(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	bad := []string{"$(touch " + pwned + ")", "`touch " + pwned + "`", "a'b", `a"b`, "-rf", "x\ny", "$HOME", "*"}
	f := newFixture(t)
	var entries []BundleEntry
	var paths []string
	for i, b := range bad {
		p := filepath.Join(f.dir, b)
		paths = append(paths, p)
		e := f.file(uint64(i+1), b, b+"\n")
		entries = append(entries, e)
	}
	n := uint64(len(entries))
	out := filepath.Join(dir, "out")
	entries = append(entries, BundleEntry{Seq: n + 1, Hash: sum([]byte("e")), Op: OpExec,
		Command: `printf '%s|' "$NTP" "$ODD" > ` + quote(out), Unless: "test -n \"$NEVER\"", Creates: filepath.Join(dir, "$(touch "+pwned+")")})
	res := f.apply(t, &Bundle{Entries: entries, Env: map[string]string{"NTP": "$(touch " + pwned + ")", "ODD": "a'b\"c\n`x`"}})
	if res.Position != n+1 {
		t.Fatalf("result = %+v", res)
	}
	for i, b := range bad {
		got, err := os.ReadFile(paths[i])
		if err != nil || string(got) != b+"\n" {
			t.Errorf("%q: content %q, %v", b, got, err)
		}
	}
	if got, _ := os.ReadFile(out); string(got) != "$(touch "+pwned+")|a'b\"c\n`x`|" {
		t.Errorf("exec saw env %q", got)
	}
	pr, err := f.st.Probe(context.Background(), Target{}, ProbeRequest{StateDir: f.sd, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if !pr.Paths[p].Exists || pr.Paths[p].Type != "file" {
			t.Errorf("probe of %q: %+v", p, pr.Paths[p])
		}
	}
	data, err := f.st.Fetch(context.Background(), Target{}, paths)
	if err != nil || len(data) != len(paths) {
		t.Fatalf("fetch: %d %v", len(data), err)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a metacharacter ran as code: " + pwned + " exists")
	}
	// A branch name and an owner are data too (an owner that is no user
	// fails the entry; nothing runs).
	res = f.apply(t, &Bundle{Branch: "$(touch " + pwned + ")", ExpectBranch: "main", ExpectPosition: n + 1, ExpectHash: res.Hash,
		Entries: []BundleEntry{{Seq: n + 2, Hash: sum([]byte("o")), Op: OpFile, Path: filepath.Join(f.dir, "o"), Content: []byte("o"), Owner: "$(touch " + pwned + ")", Group: "-x"}}})
	if len(res.Entries) != 1 || res.Entries[0].Result != "failed" {
		t.Errorf("bad owner: %+v", res)
	}
	if st := f.state(t); st.Branch != "$(touch "+pwned+")" {
		t.Errorf("branch recorded as %q", st.Branch)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a metacharacter ran as code: " + pwned + " exists")
	}
}

func TestEnvNamesChecked(t *testing.T) {
	for _, n := range []string{"", "1A", "A-B", "A B", "IFS", "a=b", "Ä"} {
		if ValidEnvName(n) {
			t.Errorf("ValidEnvName(%q) = true", n)
		}
		if _, err := applyProgram(&Bundle{Env: map[string]string{n: "x"}}, "t"); err == nil {
			t.Errorf("apply with env name %q: no error", n)
		}
	}
	for _, n := range []string{"NTP", "_x", "a1"} {
		if !ValidEnvName(n) {
			t.Errorf("ValidEnvName(%q) = false", n)
		}
	}
	if _, err := sandboxScript(SandboxRequest{Entries: []SandboxEntry{{Seq: 1, Kind: "exec", Command: "x"}}, Env: map[string]string{"A": "a\x00"}}); err == nil {
		t.Error("NUL in an env value accepted")
	}
	if _, err := applyProgram(&Bundle{Entries: []BundleEntry{{Seq: 1, Op: OpExec, Command: "a\x00b"}}}, "t"); err == nil {
		t.Error("NUL in a command accepted")
	}
}

func TestApplyRemove(t *testing.T) {
	f := newFixture(t)
	file := filepath.Join(f.dir, "gone")
	empty := filepath.Join(f.dir, "emptydir")
	full := filepath.Join(f.dir, "fulldir")
	link := filepath.Join(f.dir, "link")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	must(t, os.Mkdir(empty, 0o755))
	must(t, os.MkdirAll(filepath.Join(full, "inside"), 0o755))
	must(t, os.Symlink(full, link))
	rm := func(seq uint64, p string) BundleEntry {
		return BundleEntry{Seq: seq, Hash: sum([]byte(p)), Op: OpRemove, Path: p}
	}
	res := f.apply(t, &Bundle{Entries: []BundleEntry{rm(1, file), rm(2, empty), rm(3, link), rm(4, filepath.Join(f.dir, "never-there")), rm(5, full), rm(6, file)}})
	want := []string{"ok", "ok", "ok", "ok", "failed"}
	if len(res.Entries) != len(want) || res.Position != 4 {
		t.Fatalf("result = %+v", res)
	}
	for i, w := range want {
		if res.Entries[i].Result != w {
			t.Errorf("entry %d: %+v, want %s", i+1, res.Entries[i], w)
		}
	}
	if !strings.Contains(res.Entries[4].Output, "is a directory that is not empty") {
		t.Errorf("non-empty dir output = %q", res.Entries[4].Output)
	}
	for _, p := range []string{file, empty, link} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	if _, err := os.Stat(filepath.Join(full, "inside")); err != nil {
		t.Errorf("non-empty dir touched: %v", err)
	}
	if st := f.state(t); st.Position != 4 {
		t.Errorf("state position %d", st.Position)
	}
}
