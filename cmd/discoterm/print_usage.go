package main

import (
	"fmt"

	"github.com/discoterm/discoterm/store"
)

// stepUsage is an exec entry's per-step metrics for report's table: CPU
// as user+sys seconds, IO as bytes read and written by the command's
// system calls, its peak memory ("n/a" where the host could not measure
// it: no writable cgroup v2); "-" for entries that ran no command.
func stepUsage(u *store.Usage) (cpu, read, written, peak string) {
	if u == nil {
		return "-", "-", "-", "-"
	}
	peak = "n/a"
	if u.PeakMem > 0 {
		peak = byteSize(u.PeakMem)
	}
	return fmt.Sprintf("%.2fs+%.2fs", u.UserCPU.Seconds(), u.SysCPU.Seconds()), byteSize(u.ReadChars), byteSize(u.WriteChars), peak
}

func byteSize(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
