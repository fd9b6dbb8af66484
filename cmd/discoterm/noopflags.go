package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/discoterm/discoterm/engine"
)

// Bounds of the sandbox caps an operator may set: below them a command
// could not even start in the sandbox (its own processes count), above
// them the cap would not protect the host's memory (the upper layers and
// the output live on tmpfs) or the plan's wait.
const (
	minNoopTimeout = time.Second
	maxNoopTimeout = 24 * time.Hour
	minNoopSpace   = 1 << 20
	maxNoopSpace   = 64 << 30
	minNoopOutput  = 4 << 10
	maxNoopOutput  = 1 << 30
	minNoopProcs   = 16
	maxNoopProcs   = 1 << 16
)

// sizeFlag is a flag of a size in bytes: a number with an optional unit
// K, M, G (powers of 1024; KiB, MiB, GiB and KB, MB, GB say the same).
type sizeFlag int64

func (b *sizeFlag) String() string { return formatSize(int64(*b)) }

func (b *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = sizeFlag(n)
	return nil
}

func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size: write a number of bytes with an optional unit, e.g. 256M, 512K, 1G")
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

// checkNoop refuses sandbox caps out of bounds, saying what would do.
func (g *globals) checkNoop() error {
	bad := func(flag, value, lo, hi string) error {
		return fmt.Errorf("%w: --%s %s is out of bounds: give a value from %s to %s", engine.ErrUsage, flag, value, lo, hi)
	}
	if g.noop < minNoopTimeout || g.noop > maxNoopTimeout {
		return bad("noop-timeout", g.noop.String(), minNoopTimeout.String(), "24h")
	}
	if g.noopSpace < minNoopSpace || g.noopSpace > maxNoopSpace {
		return bad("noop-space", g.noopSpace.String(), formatSize(minNoopSpace), formatSize(maxNoopSpace))
	}
	if g.noopOutput < minNoopOutput || g.noopOutput > maxNoopOutput {
		return bad("noop-output", g.noopOutput.String(), formatSize(minNoopOutput), formatSize(maxNoopOutput))
	}
	if g.noopProcs < minNoopProcs || g.noopProcs > maxNoopProcs {
		return bad("noop-procs", strconv.Itoa(g.noopProcs), strconv.Itoa(minNoopProcs), strconv.Itoa(maxNoopProcs))
	}
	return nil
}
