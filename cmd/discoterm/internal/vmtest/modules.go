package vmtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// moduleFiles finds the kernel modules that want (module names) need,
// in the order they must be loaded: each after the modules it depends on
// (the "depends=" field of its .modinfo section). modDir is
// /lib/modules/VERSION; names compare with '-' and '_' alike.
func moduleFiles(modDir string, want []string) ([]string, error) {
	byName := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			byName[modName(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules in %s: %v", modDir, err)
	}
	var order []string
	done := map[string]bool{}
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		name = modName(name)
		if done[name] {
			return nil
		}
		if depth > 32 {
			return fmt.Errorf("kernel module %s: dependency loop", name)
		}
		p, ok := byName[name]
		if !ok {
			if isBuiltin(modDir, name) {
				done[name] = true
				return nil
			}
			return fmt.Errorf("kernel module %s: not in %s nor built in", name, modDir)
		}
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		done[name] = true
		order = append(order, p)
		return nil
	}
	for _, w := range want {
		if err := visit(w, 0); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// isBuiltin tells whether modules.builtin lists the module.
func isBuiltin(modDir, name string) bool {
	data, err := os.ReadFile(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if modName(strings.TrimSuffix(filepath.Base(l), ".ko")) == name {
			return true
		}
	}
	return false
}

// moduleDepends reads a module's "depends=" from its .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel module %s: %v", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("kernel module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("kernel module %s: %v", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
