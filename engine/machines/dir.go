package machines

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a directory of machine files (--machines DIR).
type Dir struct{ Path string }

// ErrNotFound is a MAC or name no machine file has.
var ErrNotFound = errors.New("no such machine")

// Load reads every machine file, sorted by name, and refuses the set if
// two files claim one MAC or one address (naming both files).
func (d Dir) Load() ([]Machine, error) {
	ents, err := os.ReadDir(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("machines directory: %v; give another --machines DIR", err)
	}
	var ms []Machine
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		p := filepath.Join(d.Path, e.Name())
		data, err := readCapped(p)
		if err != nil {
			return nil, err
		}
		m, err := Parse(p, data)
		if err != nil {
			return nil, err
		}
		if want := m.Name + Ext; e.Name() != want {
			return nil, &ParseError{File: p, What: fmt.Sprintf("holds name %s but is called %s; rename it to %s", m.Name, e.Name(), want)}
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			if err := conflict(ms[i], ms[j]); err != nil {
				return nil, err
			}
		}
	}
	return ms, nil
}

func readCapped(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return data, nil
}

// conflict says why two machines cannot both be registered.
func conflict(a, b Machine) error {
	switch {
	case a.MAC.String() == b.MAC.String():
		return fmt.Errorf("MAC %s is in both %s and %s; a MAC belongs to one machine: remove one (machine rm NAME)", a.MAC, a.File, b.File)
	case a.IP.IsValid() && a.IP == b.IP:
		return fmt.Errorf("address %s is in both %s and %s; give one of them another --ip", a.IP, a.File, b.File)
	case a.Name == b.Name:
		return fmt.Errorf("name %s is in both %s and %s; names are hostnames and must differ", a.Name, a.File, b.File)
	}
	return nil
}

// Find is the machine whose MAC or name is key.
func (d Dir) Find(key string) (Machine, error) {
	ms, err := d.Load()
	if err != nil {
		return Machine{}, err
	}
	for _, m := range ms {
		if m.Name == key || m.MAC.String() == strings.ToLower(key) {
			return m, nil
		}
	}
	if hw, err := ParseMAC(key); err == nil {
		for _, m := range ms {
			if m.MAC.String() == hw.String() {
				return m, nil
			}
		}
	}
	return Machine{}, fmt.Errorf("%w: %q is no registered machine's MAC or name; see machine list", ErrNotFound, key)
}

// Add writes a new machine's file; it refuses a MAC, address or name that
// another file already has, naming that file.
func (d Dir) Add(m Machine) (Machine, error) {
	if err := check(m); err != nil {
		return m, err
	}
	ms, err := d.Load()
	if err != nil {
		return m, err
	}
	m.File = filepath.Join(d.Path, m.Name+Ext)
	for _, o := range ms {
		if err := conflict(o, m); err != nil {
			return m, err
		}
	}
	return m, d.write(m)
}

// Edit changes the machine key names: change gets the machine as it is
// and returns it as it should be; the result is checked against the other
// files as Add checks. A new name renames the file.
func (d Dir) Edit(key string, change func(*Machine)) (Machine, error) {
	old, err := d.Find(key)
	if err != nil {
		return old, err
	}
	m := old
	change(&m)
	if err := check(m); err != nil {
		return m, err
	}
	ms, _ := d.Load()
	m.File = filepath.Join(d.Path, m.Name+Ext)
	for _, o := range ms {
		if o.File == old.File {
			continue
		}
		if err := conflict(o, m); err != nil {
			return m, err
		}
	}
	if err := d.write(m); err != nil {
		return m, err
	}
	if m.File != old.File {
		if err := os.Remove(old.File); err != nil {
			return m, err
		}
	}
	return m, nil
}

// Remove deletes the machine key names and returns it.
func (d Dir) Remove(key string) (Machine, error) {
	m, err := d.Find(key)
	if err != nil {
		return m, err
	}
	return m, os.Remove(m.File)
}

func check(m Machine) error {
	if len(m.MAC) != 6 {
		return errors.New("a machine needs its MAC address")
	}
	if err := CheckName(m.Name); err != nil {
		return err
	}
	if m.IP.IsValid() {
		if _, err := ParseIPv4(m.IP.String()); err != nil {
			return err
		}
	}
	for what, v := range map[string]string{"branch": m.Branch, "boot profile": m.Boot} {
		if v != "" {
			if err := checkWord(what, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// write replaces the file atomically: temporary file, fsync, rename.
func (d Dir) write(m Machine) error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("machines directory: %v; give another --machines DIR", err)
	}
	f, err := os.CreateTemp(d.Path, ".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(Format(m)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), m.File)
}
