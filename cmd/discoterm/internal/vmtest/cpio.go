package vmtest

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// cpioArchive collects the files of an initramfs and writes them as a
// newc ("070701") cpio archive, the format the kernel unpacks. Parent
// directories are added as needed, so every entry's directory comes
// before it.
type cpioArchive struct {
	entries map[string]cpioEntry
}

type cpioEntry struct {
	mode uint32 // file type and permission bits
	data []byte // a file's content or a symlink's target
}

const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
)

func newCpio() *cpioArchive { return &cpioArchive{entries: map[string]cpioEntry{}} }

// add puts one entry at name (absolute or relative; stored relative),
// with the directories above it.
func (a *cpioArchive) add(name string, mode uint32, data []byte) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if _, ok := a.entries[d]; !ok {
			a.entries[d] = cpioEntry{mode: cpioDir | 0o755}
		}
	}
	a.entries[name] = cpioEntry{mode: mode, data: data}
}

func (a *cpioArchive) file(name string, perm uint32, data []byte) { a.add(name, cpioFile|perm, data) }
func (a *cpioArchive) dir(name string, perm uint32)               { a.add(name, cpioDir|perm, nil) }
func (a *cpioArchive) symlink(name, target string)                { a.add(name, cpioSymlink|0o777, []byte(target)) }

// writeTo writes the archive, directories first by depth (sorted names
// put a directory before what it holds), owned by root.
func (a *cpioArchive) writeTo(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	ino := uint32(1)
	put := func(name string, e cpioEntry) error {
		nlink := uint32(1)
		if e.mode&0o170000 == cpioDir {
			nlink = 2
		}
		hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0, 0, 0, len(name)+1, 0)
		ino++
		buf := append([]byte(hdr), name...)
		buf = append(buf, 0)
		buf = append(buf, make([]byte, pad4(len(buf)))...)
		buf = append(buf, e.data...)
		buf = append(buf, make([]byte, pad4(len(e.data)))...)
		_, err := w.Write(buf)
		return err
	}
	for _, n := range names {
		if err := put(n, a.entries[n]); err != nil {
			return err
		}
	}
	return put("TRAILER!!!", cpioEntry{})
}

func pad4(n int) int { return (4 - n%4) % 4 }
