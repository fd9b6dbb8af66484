package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Steps are the batched remote operations the engine needs, written as POSIX
// sh scripts that use only coreutils, run through a Runner. Each method is
// one round trip.
type Steps struct {
	R Runner
	// HostKey, when set, reports the fingerprint of the key a target
	// presented (the SSH client knows it; a local runner does not).
	HostKey func(Target) (string, bool)
	// CancelWait is how long a cancelled push waits for a host to finish
	// its current entry before giving up on it; default 5 minutes.
	CancelWait time.Duration
}

// probeScript reads facts, the state file, and stat + sha256 of every path,
// and evaluates unless-guards. It forks only for stat, sha256sum and guards:
// everything else is shell builtins, so a probe costs a few milliseconds on
// the host.
func probeScript(req ProbeRequest) string {
	var s script
	s.raw(`main() {
hn=; mid=; os=
[ -r /proc/sys/kernel/hostname ] && read -r hn < /proc/sys/kernel/hostname
[ -r /etc/machine-id ] && read -r mid < /etc/machine-id
if [ -r /etc/os-release ]; then
  while IFS= read -r l; do case $l in PRETTY_NAME=*) os=${l#PRETTY_NAME=};; esac; done < /etc/os-release
fi
printf 'F hostname %s\nF machine-id %s\nF os %s\n' "$hn" "$mid" "$os"
`)
	s.line("st=" + quote(strings.TrimRight(req.StateDir, "/")+"/"+StateFileName))
	s.raw(`if [ -f "$st" ]; then
  echo S-BEGIN
  # The header only: the applied history grows with the journal and a plan
  # needs none of it (read reads a byte per system call, too).
  while IFS= read -r l || [ -n "$l" ]; do case $l in 'applied '*) break;; esac; printf 'S %s\n' "$l"; done < "$st"
  echo S-END
elif [ -e "$st" ]; then
  echo "S-NOTFILE"
fi
`)
	if len(req.Paths) > 0 {
		// Existence and type with builtins, then one stat and one sha256sum
		// over all present paths; their output comes back in argument order.
		s.line("set --")
		for i, p := range req.Paths {
			q := quote(p)
			s.line(fmt.Sprintf(`if [ -L %s ] || [ -e %s ]; then set -- "$@" %s; echo "E %d 1"; else echo "E %d 0"; fi`, q, q, q, i, i))
		}
		s.raw(`if [ $# -gt 0 ]; then stat -c 'T %F|%s|%a|%U|%G' -- "$@"; fi
for p do shift; if [ -f "$p" ] && [ ! -L "$p" ]; then set -- "$@" "$p"; fi; done
if [ $# -gt 0 ]; then sha256sum -- "$@" | while IFS= read -r l; do l=${l#\\}; printf 'H %.64s\n' "$l"; done; fi
`)
	}
	for i, cmd := range req.Unless {
		s.line(fmt.Sprintf(`( %s ) </dev/null >/dev/null 2>&1; echo "U %d $?"`, "eval "+quote(cmd), i))
	}
	s.raw("echo END\n}\nmain\n")
	return s.String()
}

// Probe is one round trip: facts, state file, the paths and the guards.
func (st *Steps) Probe(ctx context.Context, t Target, req ProbeRequest) (*ProbeResult, error) {
	var out, errb bytes.Buffer
	code, err := st.R.Run(ctx, t, remoteShell, strings.NewReader(probeScript(req)), &out, &errb)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("probe of %s exited %d: %s", t.display(), code, trunc(strings.TrimSpace(errb.String()), 300))
	}
	res, err := parseProbe(out.Bytes(), req)
	if err != nil {
		return nil, fmt.Errorf("probe of %s: %w", t.display(), err)
	}
	if st.HostKey != nil {
		res.HostKey, _ = st.HostKey(t)
	}
	return res, nil
}

func parseProbe(out []byte, req ProbeRequest) (*ProbeResult, error) {
	res := &ProbeResult{Paths: map[string]PathInfo{}, Unless: map[string]int{}}
	var state []string
	var present []int // indexes of present paths, in order
	var types []string
	var hashes []string
	ended := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	inState := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case inState && l == "S-END":
			inState = false
		case inState && strings.HasPrefix(l, "S "):
			state = append(state, l[2:])
		case l == "S-BEGIN":
			inState, res.State.Present = true, true
		case l == "S-NOTFILE":
			res.State.Present = true
			res.StateErr = "the state path exists but is not a regular file"
		case strings.HasPrefix(l, "F "):
			k, v, _ := strings.Cut(l[2:], " ")
			switch k {
			case "hostname":
				res.Facts.Hostname = v
			case "machine-id":
				res.Facts.MachineID = v
			case "os":
				res.Facts.OS = strings.Trim(v, `"'`)
			}
		case strings.HasPrefix(l, "E "):
			f := strings.Fields(l)
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i >= len(req.Paths) || len(f) != 3 {
				return nil, fmt.Errorf("malformed reply line %q", trunc(l, 60))
			}
			if f[2] == "1" {
				present = append(present, i)
			}
		case strings.HasPrefix(l, "T "):
			types = append(types, l[2:])
		case strings.HasPrefix(l, "H "):
			hashes = append(hashes, l[2:])
		case strings.HasPrefix(l, "U "):
			f := strings.Fields(l)
			i, err1 := strconv.Atoi(f[1])
			code, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil || i < 0 || i >= len(req.Unless) {
				return nil, fmt.Errorf("malformed reply line %q", trunc(l, 60))
			}
			res.Unless[req.Unless[i]] = code
		case l == "END":
			ended = true
		}
	}
	if !ended {
		return nil, fmt.Errorf("reply ended early (host went away?)")
	}
	if len(types) != len(present) {
		return nil, fmt.Errorf("stat answered for %d of %d paths", len(types), len(present))
	}
	hi := 0
	for _, p := range req.Paths {
		res.Paths[p] = PathInfo{Path: p}
	}
	for k, idx := range present {
		p := req.Paths[idx]
		info := PathInfo{Path: p, Exists: true}
		f := strings.Split(types[k], "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("malformed stat line %q", trunc(types[k], 60))
		}
		switch f[0] {
		case "regular file", "regular empty file":
			info.Type = "file"
		case "directory":
			info.Type = "dir"
		case "symbolic link":
			info.Type = "symlink"
		default:
			info.Type = "other"
		}
		info.Size, _ = strconv.ParseInt(f[1], 10, 64)
		m, _ := strconv.ParseUint(f[2], 8, 32)
		info.Mode, info.Owner, info.Group = uint32(m), f[3], f[4]
		if info.Type == "file" {
			if hi >= len(hashes) {
				return nil, fmt.Errorf("sha256sum answered for too few files")
			}
			info.Hash = hashes[hi]
			hi++
		}
		res.Paths[p] = info
	}
	if res.State.Present && res.StateErr == "" {
		parsed, err := ParseState(strings.Join(state, "\n"))
		if err != nil {
			res.StateErr = err.Error()
		} else {
			res.State = parsed
		}
	}
	return res, nil
}

// fetchScript prints each path's content base64-encoded on its own line.
func fetchScript(paths []string) string {
	var s script
	s.raw("main() {\n")
	for i, p := range paths {
		s.line(fmt.Sprintf(`if [ -f %s ]; then printf 'C %d '; base64 -w0 -- %s; echo; else echo "C %d -"; fi`, quote(p), i, quote(p), i))
	}
	s.raw("echo END\n}\nmain\n")
	return s.String()
}

// Fetch is one round trip: the contents of regular files. A path that is
// not a regular file is left out of the result.
func (st *Steps) Fetch(ctx context.Context, t Target, paths []string) (map[string][]byte, error) {
	got := map[string][]byte{}
	if len(paths) == 0 {
		return got, nil
	}
	var out, errb bytes.Buffer
	code, err := st.R.Run(ctx, t, remoteShell, strings.NewReader(fetchScript(paths)), &out, &errb)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("fetch from %s exited %d: %s", t.display(), code, trunc(strings.TrimSpace(errb.String()), 300))
	}
	ended := false
	for _, l := range strings.Split(out.String(), "\n") {
		if l == "END" {
			ended = true
			continue
		}
		if !strings.HasPrefix(l, "C ") {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(paths) || f[2] == "-" {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil {
			return nil, fmt.Errorf("fetch from %s: %s: bad encoding", t.display(), paths[i])
		}
		got[paths[i]] = data
	}
	if !ended {
		return nil, fmt.Errorf("fetch from %s: reply ended early", t.display())
	}
	return got, nil
}

func (t Target) display() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Addr
}
