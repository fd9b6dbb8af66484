package remote

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The host's state file, /var/lib/discoterm/state by default, is plain text
// so an operator on the host can read it:
//
//	# discoterm state v1
//	branch main
//	position 3
//	hash 9f86d0…
//	applied 1 <hash> <unix-time> <centiseconds> ok
//	applied 2 <hash> <unix-time> <centiseconds> ok
//
// It is only ever replaced whole (temp file, fsync, rename), after the entry
// it records has succeeded.
const stateHeader = "# discoterm state v1"

// StateFileName is the state file's name inside the state directory.
const StateFileName = "state"

// ParseState parses a state file. Errors name the line and what was wrong.
func ParseState(text string) (StateFile, error) {
	st := StateFile{Present: true}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || lines[0] != stateHeader {
		first := ""
		if len(lines) > 0 {
			first = lines[0]
		}
		return st, fmt.Errorf("line 1: expected %q, found %q", stateHeader, trunc(first, 40))
	}
	seen := map[string]bool{}
	for i, l := range lines[1:] {
		n := i + 2
		key, rest, _ := strings.Cut(l, " ")
		switch key {
		case "branch", "position", "hash":
			if seen[key] {
				return st, fmt.Errorf("line %d: %s given twice", n, key)
			}
			seen[key] = true
		}
		switch key {
		case "branch":
			st.Branch = rest
		case "position":
			p, err := strconv.ParseUint(rest, 10, 64)
			if err != nil {
				return st, fmt.Errorf("line %d: position %q is not a number", n, trunc(rest, 20))
			}
			st.Position = p
		case "hash":
			if rest != "" && !isHex64(rest) {
				return st, fmt.Errorf("line %d: hash %q is not a sha256", n, trunc(rest, 70))
			}
			st.Hash = rest
		case "applied":
			f := strings.Fields(rest)
			if len(f) != 5 {
				return st, fmt.Errorf("line %d: applied line needs seq, hash, time, duration, result", n)
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			ts, err2 := strconv.ParseInt(f[2], 10, 64)
			cs, err3 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || !isHex64(f[1]) {
				return st, fmt.Errorf("line %d: malformed applied line", n)
			}
			st.Applied = append(st.Applied, AppliedEntry{Seq: seq, Hash: f[1], Time: time.Unix(ts, 0).UTC(),
				Duration: time.Duration(cs) * 10 * time.Millisecond, Result: f[4]})
		case "":
			if strings.TrimSpace(l) != "" {
				return st, fmt.Errorf("line %d: unexpected %q", n, trunc(l, 40))
			}
		default:
			if strings.HasPrefix(l, "#") {
				continue
			}
			return st, fmt.Errorf("line %d: unknown key %q", n, trunc(key, 20))
		}
	}
	if !seen["position"] || !seen["branch"] {
		return st, fmt.Errorf("missing branch or position line")
	}
	if st.Position > 0 && st.Hash == "" {
		return st, fmt.Errorf("position %d without the hash of its entry", st.Position)
	}
	return st, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
