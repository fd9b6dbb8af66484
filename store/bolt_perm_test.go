package store

import (
	"os"
	"path/filepath"
	"testing"
)

func permOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestStoreFileIsPrivate: the store holds secret file entries, so the file
// (and its lock) is 0600 and a directory it creates 0700, whatever the
// umask; a store file others can read is restricted on open, and so is the
// default directory.
func TestStoreFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "sub", "store.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx Tx) error { _, err := tx.PutBlob([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if m := permOf(t, path); m != 0o600 {
		t.Errorf("new store file mode %04o, want 0600", m)
	}
	if m := permOf(t, path+".lock"); m != 0o600 {
		t.Errorf("lock file mode %04o, want 0600", m)
	}
	for _, d := range []string{filepath.Dir(path), filepath.Dir(filepath.Dir(path))} {
		if m := permOf(t, d); m != 0o700 {
			t.Errorf("created directory %s mode %04o, want 0700", d, m)
		}
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if m := permOf(t, path); m != 0o600 {
		t.Errorf("a 0644 store file is %04o after open, want 0600", m)
	}

	state := t.TempDir()
	if err := os.Mkdir(filepath.Join(state, "discoterm"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", state)
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if m := permOf(t, filepath.Dir(p)); m != 0o700 {
		t.Errorf("default store directory mode %04o, want 0700", m)
	}
}
