package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// chain returns n sealed entries of mixed kinds.
func chain(n int) []Entry {
	var out []Entry
	var prev *Entry
	for i := 0; i < n; i++ {
		var e Entry
		switch i % 4 {
		case 0:
			e = Entry{Kind: KindFile, Path: "/etc/motd", Blob: strings.Repeat("ab", 32), Size: 12, Mode: 0o644, Owner: "root", Group: "root"}
		case 1:
			e = Entry{Kind: KindTemplate, Path: "/etc/ntp.conf", Blob: strings.Repeat("cd", 32), Mode: 0o600}
		case 2:
			e = Entry{Kind: KindExec, Command: "apt-get install -y chrony", Guard: Guard{Creates: "/usr/sbin/chronyd"}}
		case 3:
			e = Entry{Kind: KindReboot}
		}
		e.Changeset, e.Author, e.Message = 1, "alice", "change"
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		out = append(out, Seal(prev, e))
		prev = &out[len(out)-1]
	}
	return out
}

func TestSeal(t *testing.T) {
	es := chain(3)
	if es[0].Seq != 1 || es[0].Prev != "" {
		t.Errorf("first entry: seq %d prev %q", es[0].Seq, es[0].Prev)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq != uint64(i+1) || es[i].Prev != es[i-1].Hash {
			t.Errorf("entry %d: seq %d prev %q", i, es[i].Seq, es[i].Prev)
		}
	}
	// Sealing converts to UTC, and the hash depends only on the instant.
	local := Seal(nil, Entry{Kind: KindReboot, Time: t0.In(time.FixedZone("X", 3600))})
	utc := Seal(nil, Entry{Kind: KindReboot, Time: t0})
	if local.Hash != utc.Hash || local.Time.Location() != time.UTC {
		t.Errorf("time zone changes the hash or is kept: %v %v", local.Time, local.Hash == utc.Hash)
	}
}

func TestVerify(t *testing.T) {
	good := chain(6)
	head := good[len(good)-1].Hash

	edit := func(i int, f func(*Entry)) []Entry {
		es := append([]Entry(nil), good...)
		f(&es[i])
		return es
	}
	tests := []struct {
		name    string
		entries []Entry
		head    string
		seq     uint64 // 0: must verify
		reason  string
	}{
		{"intact", good, head, 0, ""},
		{"intact without head", good, "", 0, ""},
		{"empty", nil, "", 0, ""},
		{"edited message", edit(2, func(e *Entry) { e.Message = "innocent" }), head, 3, "does not match its hash"},
		{"edited path", edit(0, func(e *Entry) { e.Path = "/etc/shadow" }), head, 1, "does not match its hash"},
		{"edited time", edit(4, func(e *Entry) { e.Time = e.Time.Add(time.Nanosecond) }), head, 5, "does not match its hash"},
		{"edited guard", edit(2, func(e *Entry) { e.Guard.Creates = "" }), head, 3, "does not match its hash"},
		{"edited and rehashed", edit(3, func(e *Entry) { e.Message = "x"; e.Hash = e.ComputeHash() }), head, 5, "link to the previous entry"},
		{"reordered", []Entry{good[0], good[2], good[1], good[3], good[4], good[5]}, head, 2, "found seq 3 where 2 belongs"},
		{"renumbered after reorder", func() []Entry {
			es := []Entry{good[0], good[2], good[1]}
			es[1].Seq, es[2].Seq = 2, 3
			return es
		}(), "", 2, "link to the previous entry"},
		{"truncated in the middle", []Entry{good[0], good[1], good[3], good[4], good[5]}, head, 3, "found seq 4 where 3 belongs"},
		{"first entry missing", good[1:], head, 1, "found seq 2 where 1 belongs"},
		{"truncated at the end", good[:4], head, 5, "head hash does not match"},
		{"all entries missing", nil, head, 1, "head hash does not match"},
		{"duplicated entry", []Entry{good[0], good[1], good[1]}, "", 3, "found seq 2 where 3 belongs"},
		{"invalid kind", edit(3, func(e *Entry) { e.Kind = "format-disk"; e.Hash = e.ComputeHash() }), "", 4, "unknown entry kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify("web", tt.entries, tt.head)
			if tt.seq == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChain) {
				t.Fatalf("Verify: %v, want a ChainError", err)
			}
			if ce.Seq != tt.seq || ce.Branch != "web" {
				t.Errorf("bad seq %d branch %q, want %d web", ce.Seq, ce.Branch, tt.seq)
			}
			if !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", ce.Reason, tt.reason)
			}
			if !strings.Contains(err.Error(), "restore the store from a backup") {
				t.Errorf("message %q does not say what to do", err)
			}
		})
	}
}

func TestValidTargetPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/etc/motd", true},
		{"/etc/ssh/sshd_config.d/10-discoterm.conf", true},
		{"/devices", true}, // only /dev itself and below are refused
		{"/proc.conf", true},
		{"", false},
		{"etc/motd", false},
		{"./etc/motd", false},
		{"/etc/../etc/shadow", false},
		{"/etc/./motd", false},
		{"/..", false},
		{"/proc/x", false},
		{"/proc", false},
		{"/sys", false},
		{"/sys/kernel/mm", false},
		{"/dev/null", false},
		{"/dev", false},
		{"/", false},
		{"/etc/", false},
		{"//etc/motd", false},
		{"/etc//motd", false},
		{"/etc/mo\x00td", false},
		{"/etc/motd\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := ValidTargetPath(tt.path)
			if (err == nil) != tt.ok {
				t.Errorf("ValidTargetPath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	blob := strings.Repeat("0", 64)
	tests := []struct {
		name string
		e    Entry
		msg  string // "" for valid
	}{
		{"file", Entry{Kind: KindFile, Path: "/etc/motd", Blob: blob, Mode: 0o644}, ""},
		{"exec", Entry{Kind: KindExec, Command: "true"}, ""},
		{"reboot", Entry{Kind: KindReboot}, ""},
		{"unknown kind", Entry{Kind: "rm"}, "unknown entry kind"},
		{"file without blob", Entry{Kind: KindFile, Path: "/etc/motd"}, "no content hash"},
		{"file bad mode", Entry{Kind: KindFile, Path: "/etc/motd", Blob: blob, Mode: 0o10000}, "out of range"},
		{"template relative", Entry{Kind: KindTemplate, Path: "motd", Blob: blob}, "relative"},
		{"exec blank", Entry{Kind: KindExec, Command: "  \t"}, "empty command"},
		{"exec guard relative", Entry{Kind: KindExec, Command: "x", Guard: Guard{Creates: "tmp/x"}}, "guard:"},
		// JSON (the canonical form) would turn these bytes into U+FFFD, so
		// two different commands would share a hash.
		{"exec invalid UTF-8", Entry{Kind: KindExec, Command: "printf '\xff'"}, "not valid UTF-8"},
		{"message invalid UTF-8", Entry{Kind: KindReboot, Message: "\xfe"}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if tt.msg == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Validate: %v, want error containing %q", err, tt.msg)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		e    Entry
		want string
	}{
		{Entry{Kind: KindFile, Path: "/etc/motd"}, "/etc/motd"},
		{Entry{Kind: KindExec, Command: "make"}, "make"},
		{Entry{Kind: KindExec, Command: "make", Guard: Guard{Creates: "/opt/x", Unless: "test -x /opt/x"}},
			"make (only if /opt/x is absent and unless `test -x /opt/x` succeeds)"},
		{Entry{Kind: KindReboot}, "reboot"},
	}
	for _, tt := range tests {
		if got := tt.e.Summary(); got != tt.want {
			t.Errorf("Summary() = %q, want %q", got, tt.want)
		}
	}
}

// FuzzVerify feeds arbitrary JSON lines, decoded as entries, to Verify: it
// must report, never panic. Lines that do not decode are skipped, as a
// lenient loader would.
func FuzzVerify(f *testing.F) {
	var seed bytes.Buffer
	for _, e := range chain(5) {
		b, _ := json.Marshal(e)
		seed.Write(b)
		seed.WriteByte('\n')
	}
	f.Add(seed.Bytes(), "")
	f.Add(seed.Bytes(), chain(5)[4].Hash)
	f.Add([]byte(`{"seq":1,"kind":"file","path":"/etc/../x","blob":"`+strings.Repeat("0", 64)+`"}`), "x")
	f.Add([]byte(`{"seq":18446744073709551615,"time":"9999-12-31T23:59:59.999999999Z"}`+"\n{}\n"), "")
	f.Add([]byte("not json\n{\"kind\":\"exec\",\"command\":\"\\u0000\"}"), "")
	f.Fuzz(func(t *testing.T, data []byte, head string) {
		var es []Entry
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e Entry
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				es = append(es, e)
			}
		}
		err := Verify("fuzz", es, head)
		if err != nil && !errors.Is(err, ErrChain) {
			t.Fatalf("Verify returned a non-chain error: %v", err)
		}
		if err == nil && len(es) > 0 && head != "" && es[len(es)-1].Hash != head {
			t.Fatalf("Verify accepted a journal whose last hash is not the head")
		}
	})
}

// TestAllowUserDirIsHashed: the allowance is part of what is signed, and
// entries without it hash exactly as they did before it existed.
func TestAllowUserDirIsHashed(t *testing.T) {
	e := Entry{Seq: 1, Kind: KindFile, Path: "/srv/a/conf", Blob: strings.Repeat("a", 64), Mode: 0o644, Owner: "root", Group: "root", Changeset: 1, Author: "alice", Time: time.Unix(0, 0)}
	if c := string(e.Canonical()); strings.Contains(c, "allow_user_dir") {
		t.Fatalf("an entry without the allowance hashes differently from before: %s", c)
	}
	allowed := e
	allowed.AllowUserDir = true
	if allowed.ComputeHash() == e.ComputeHash() {
		t.Fatal("--allow-user-dir is not covered by the hash")
	}
}
