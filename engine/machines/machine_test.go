package machines

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mac(t *testing.T, s string) Machine {
	t.Helper()
	hw, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return Machine{MAC: hw}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mac 52:54:00:12:34:56\n", `m.machine: no "name" line; every machine file needs "mac MAC" and "name NAME"`},
		{"name web7\nmac zz\n", `m.machine:2: "zz" is not an Ethernet MAC address; write it as 52:54:00:12:34:56`},
		{"name web7\nmac 01:00:5e:00:00:01\n", `m.machine:2: 01:00:5e:00:00:01 is a multicast address`},
		{"name Web_7\n", `m.machine:1: name "Web_7" is not a hostname`},
		{"name web7\nmac 52:54:00:12:34:56\nip fd00::1\n", `m.machine:3: "fd00::1" is not an IPv4 address`},
		{"name web7\nname web8\n", `m.machine:2: "name" given twice (first on line 1); keep one`},
		{"name web7\ncolour blue\n", `m.machine:2: unknown key "colour"; the keys are mac, name, ip, branch, boot`},
		{"name\n", `m.machine:1: "name" has no value; write it as "name VALUE"`},
		{"name web7\nmac 52:54:00:12:34:56\nboot ../etc\n", `m.machine:3: boot profile "../etc": use up to 64`},
		{strings.Repeat("#", MaxFileSize+1), `is too large for a machine file`},
	} {
		_, err := Parse("m.machine", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	m := mac(t, "52-54-00-12-34-56")
	m.Name, m.IP, m.Branch, m.Boot = "web7", netip.MustParseAddr("10.0.0.7"), "web", "debian"
	got, err := Parse("f", Format(m))
	if err != nil {
		t.Fatal(err)
	}
	got.File = ""
	if got.MAC.String() != m.MAC.String() || got.Name != m.Name || got.IP != m.IP || got.Branch != m.Branch || got.Boot != m.Boot {
		t.Fatalf("round trip: %+v, want %+v", got, m)
	}
}

func TestDirAddFindEditRemove(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "machines")}
	a := mac(t, "52:54:00:00:00:01")
	a.Name, a.IP = "web1", netip.MustParseAddr("10.0.0.1")
	if _, err := d.Add(a); err != nil {
		t.Fatal(err)
	}
	b := mac(t, "52:54:00:00:00:01")
	b.Name = "web2"
	if _, err := d.Add(b); err == nil || !strings.Contains(err.Error(), "web1.machine and ") || !strings.Contains(err.Error(), "web2.machine") {
		t.Fatalf("duplicate MAC: %v, want both files named", err)
	}
	b = mac(t, "52:54:00:00:00:02")
	b.Name, b.IP = "web2", netip.MustParseAddr("10.0.0.1")
	if _, err := d.Add(b); err == nil || !strings.Contains(err.Error(), "address 10.0.0.1 is in both") {
		t.Fatalf("duplicate address: %v", err)
	}
	b.IP = netip.MustParseAddr("10.0.0.2")
	if _, err := d.Add(b); err != nil {
		t.Fatal(err)
	}
	if m, err := d.Find("52-54-00-00-00-02"); err != nil || m.Name != "web2" {
		t.Fatalf("Find by MAC: %+v %v", m, err)
	}
	if _, err := d.Edit("web2", func(m *Machine) { m.IP = netip.MustParseAddr("10.0.0.1") }); err == nil {
		t.Fatal("edit onto another's address accepted")
	}
	if m, err := d.Edit("web2", func(m *Machine) { m.Name = "db2"; m.Branch = "db" }); err != nil || m.Branch != "db" {
		t.Fatalf("edit: %+v %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(d.Path, "web2.machine")); !os.IsNotExist(err) {
		t.Fatalf("renamed machine left its old file: %v", err)
	}
	ms, err := d.Load()
	if err != nil || len(ms) != 2 || ms[0].Name != "db2" {
		t.Fatalf("Load: %+v %v", ms, err)
	}
	if _, err := d.Remove("web1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Remove("web1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
}

// TestDirRefusesHandEditedDuplicates: two files written by hand (or merged
// in git) with one MAC are refused as a set, naming both.
func TestDirRefusesHandEditedDuplicates(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n+Ext), []byte("mac 52:54:00:00:00:09\nname "+n+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Dir{Path: dir}.Load()
	if err == nil || !strings.Contains(err.Error(), "a.machine and ") || !strings.Contains(err.Error(), "b.machine") {
		t.Fatalf("Load: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b"+Ext), []byte("mac 52:54:00:00:00:0a\nname c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Dir{Path: dir}).Load(); err == nil || !strings.Contains(err.Error(), "rename it to c.machine") {
		t.Fatalf("misnamed file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("mac 52:54:00:12:34:56\nname web7\nip 10.0.0.7\nbranch web\nboot debian\n"))
	f.Add([]byte("# c\n\nname a\nmac 52-54-00-12-34-56\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("f", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error does not say where: %v", err)
			}
			return
		}
		again, err := Parse("f", Format(m))
		if err != nil {
			t.Fatalf("Format of a parsed machine does not parse: %v", err)
		}
		if again.MAC.String() != m.MAC.String() || again.Name != m.Name || again.IP != m.IP || again.Branch != m.Branch || again.Boot != m.Boot {
			t.Fatalf("round trip changed %+v to %+v", m, again)
		}
	})
}
