package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// bootHistory keeps each machine's boot events as JSON lines in
// netboot-history/NAME.jsonl beside the machines directory (PXElator's
// audit), so `machine history NAME` can show them after the run.
type bootHistory struct {
	mu  sync.Mutex
	dir string
}

// maxHistoryLines caps what `machine history` reads of one machine.
const maxHistoryLines = 10000

func (e *Engine) historyDir() string {
	return filepath.Join(filepath.Dir(filepath.Clean(e.opts.MachinesDir)), "netboot-history")
}

func (h *bootHistory) add(ev *BootEvent) {
	if ev.Machine == "" {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if os.MkdirAll(h.dir, 0o700) != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(h.dir, ev.Machine+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

// BootHistory is a machine's boot events, oldest first (the last
// maxHistoryLines).
func (e *Engine) BootHistory(machine string) ([]BootEvent, error) {
	f, err := os.Open(filepath.Join(e.historyDir(), machine+".jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BootEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev BootEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			out = append(out, ev)
			if len(out) > maxHistoryLines {
				out = out[1:]
			}
		}
	}
	return out, sc.Err()
}
