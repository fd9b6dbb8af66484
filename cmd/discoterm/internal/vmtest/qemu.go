package vmtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VMOptions boot one VM from the network.
type VMOptions struct {
	Env   Env
	Tap   string // the Link's tap
	MAC   string // the NIC's MAC, as registered with machine add
	MemMB int    // default 512
}

// VM is a running QEMU whose serial console is read line by line.
type VM struct {
	// PowerOn is when QEMU was started.
	PowerOn time.Time
	cmd     *exec.Cmd
	done    chan struct{} // closed when QEMU exited
	waitErr error

	mu      sync.Mutex
	lines   []ConsoleLine
	changed chan struct{} // closed and replaced on each new line
}

// ConsoleLine is one line of the VM's serial console and when it came.
type ConsoleLine struct {
	At   time.Time
	Text string
}

// StartVM powers the VM on: SeaBIOS, then iPXE from the NIC's ROM
// (-boot n). Without KVM QEMU emulates the CPU (TCG), which is slower.
// The VM stops with ctx, with Stop, or when its guest reboots.
func StartVM(ctx context.Context, o VMOptions) (*VM, error) {
	if o.MemMB == 0 {
		o.MemMB = 512
	}
	accel := []string{"-enable-kvm", "-cpu", "host"}
	if !o.Env.KVM {
		accel = []string{"-accel", "tcg", "-cpu", "max"}
	}
	args := append(accel, "-m", strconv.Itoa(o.MemMB), "-smp", "1", "-nographic", "-no-reboot",
		"-netdev", "tap,id=n0,ifname="+o.Tap+",script=no,downscript=no",
		// No romfile=: QEMU's default for virtio-net-pci is ipxe-qemu's
		// efi-virtio.rom (Env.ROM); naming it (or pxe-virtio.rom)
		// explicitly makes this QEMU (7.2) boot without the ROM.
		"-device", "virtio-net-pci,netdev=n0,mac="+o.MAC,
		"-boot", "n")
	cmd := exec.CommandContext(ctx, o.Env.QEMU, args...)
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	v := &VM{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	v.PowerOn = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", o.Env.QEMU, err)
	}
	go v.read(out)
	return v, nil
}

func (v *VM) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// The serial console ends lines with \r\n and draws with escapes.
		t := strings.TrimRight(sc.Text(), "\r")
		v.mu.Lock()
		v.lines = append(v.lines, ConsoleLine{At: time.Now(), Text: t})
		close(v.changed)
		v.changed = make(chan struct{})
		v.mu.Unlock()
	}
	v.waitErr = v.cmd.Wait()
	close(v.done)
}

// WaitConsole waits for a console line containing frag and says when it
// came; it fails when ctx ends or QEMU exits first.
func (v *VM) WaitConsole(ctx context.Context, frag string) (time.Time, error) {
	seen := 0
	for {
		v.mu.Lock()
		for ; seen < len(v.lines); seen++ {
			if strings.Contains(v.lines[seen].Text, frag) {
				at := v.lines[seen].At
				v.mu.Unlock()
				return at, nil
			}
		}
		ch := v.changed
		v.mu.Unlock()
		select {
		case <-ch:
		case <-v.done:
			if v.has(frag) {
				continue
			}
			return time.Time{}, fmt.Errorf("the VM stopped (%v) before its console said %q", v.waitErr, frag)
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("the VM's console did not say %q in time: %v", frag, ctx.Err())
		}
	}
}

func (v *VM) has(frag string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, l := range v.lines {
		if strings.Contains(l.Text, frag) {
			return true
		}
	}
	return false
}

// Console is the console so far, each line with its time since power-on.
func (v *VM) Console() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	for _, l := range v.lines {
		fmt.Fprintf(&b, "%6.2fs %s\n", l.At.Sub(v.PowerOn).Seconds(), l.Text)
	}
	return b.String()
}

// Stop ends QEMU (if it still runs) and waits for it, at most 10 s.
func (v *VM) Stop() {
	select {
	case <-v.done:
		return
	default:
	}
	v.cmd.Process.Kill()
	select {
	case <-v.done:
	case <-time.After(10 * time.Second):
	}
}
