package remote

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Caps of the sandbox reply parser: a host's reply is untrusted.
const (
	sandboxLineMax    = ReportMax*4/3 + 64
	sandboxPathsMax   = 20000
	sandboxExecsMax   = 10000
	sandboxReasonMax  = 4096
	sandboxSkippedMax = 100
)

// ParseSandbox reads the sandbox step's reply. It never panics: anything
// malformed is an error naming the line.
func ParseSandbox(out []byte) (*SandboxResult, error) {
	res := &SandboxResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), sandboxLineMax)
	cur := func(seq uint64) (*ExecReport, error) {
		if n := len(res.Execs); n > 0 && res.Execs[n-1].Seq == seq {
			return &res.Execs[n-1], nil
		}
		return nil, fmt.Errorf("report for seq %d out of order", seq)
	}
	ended := false
	for sc.Scan() {
		l := sc.Text()
		if ended {
			return nil, errors.New("reply continues after END")
		}
		tag, rest, _ := strings.Cut(l, " ")
		f := strings.Split(rest, " ")
		bad := func() error { return fmt.Errorf("malformed reply line %q", trunc(l, 60)) }
		switch tag {
		case "END":
			ended = true
		case "N":
			if len(f) != 2 {
				return nil, bad()
			}
			why, err := b64(f[1], sandboxReasonMax)
			if err != nil {
				return nil, bad()
			}
			res.Unavailable = unavailableText(f[0], cleanText(string(why)))
		case "M":
			mp, err := b64(rest, 4096)
			if err != nil || len(res.Skipped) >= sandboxSkippedMax {
				return nil, bad()
			}
			res.Skipped = append(res.Skipped, cleanText(string(mp)))
		case "F":
			if len(f) != 3 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			rc, err2 := strconv.Atoi(f[1])
			text, err3 := b64(f[2], OutputShown*2)
			if err1 != nil || err2 != nil || err3 != nil {
				return nil, bad()
			}
			res.FileFailed, res.FileOutput = seq, fmt.Sprintf("exit %d: %s", rc, strings.TrimSpace(string(text)))
		case "G":
			if len(f) < 2 || len(f) > 3 || len(res.Execs) >= sandboxExecsMax {
				return nil, bad()
			}
			seq, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return nil, bad()
			}
			if n := len(res.Execs); n > 0 && res.Execs[n-1].Seq >= seq {
				return nil, bad()
			}
			r := ExecReport{Seq: seq}
			switch {
			case f[1] == "c" && len(f) == 2:
				r.Guard = "creates"
			case f[1] == "u" && len(f) == 3:
				code, err := strconv.Atoi(f[2])
				if err != nil {
					return nil, bad()
				}
				r.Guard, r.UnlessCode, r.Ran = "unless", code, code != 0
			case f[1] == "r" && len(f) == 2:
				r.Ran = true
			case f[1] == "-" && len(f) == 2: // ended before its guards (a cap)
			default:
				return nil, bad()
			}
			res.Execs = append(res.Execs, r)
		case "X":
			if len(f) != 4 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			rc, err2 := strconv.Atoi(f[1])
			size, err3 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil || size < 0 {
				return nil, bad()
			}
			r, err := cur(seq)
			if err != nil {
				return nil, err
			}
			r.ExitCode, r.OutputSize = rc, size
			switch Cap(f[2]) {
			case CapTime, CapProcs, CapSpace, CapOutput:
				r.Cap = Cap(f[2])
			case "-":
			default:
				return nil, bad()
			}
		case "O":
			if len(f) != 2 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			text, err2 := b64(f[1], OutputShown)
			if err1 != nil || err2 != nil {
				return nil, bad()
			}
			r, err := cur(seq)
			if err != nil {
				return nil, err
			}
			r.Output = text
		case "B":
			if len(f) != 2 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			blob, err2 := base64.StdEncoding.DecodeString(f[1])
			if err1 != nil || err2 != nil {
				return nil, bad()
			}
			r, err := cur(seq)
			if err != nil {
				return nil, err
			}
			r.Effects, r.Truncated, err = parseReport(blob)
			if err != nil {
				return nil, fmt.Errorf("report of seq %d: %w", seq, err)
			}
		default:
			return nil, bad()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reply: %v", err)
	}
	if !ended {
		return nil, errors.New("reply ended early (host went away?)")
	}
	return res, nil
}

func b64(s string, max int) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > max+3 {
		return nil, errors.New("too long")
	}
	return base64.StdEncoding.DecodeString(s)
}

func unavailableText(code, why string) string {
	why = trunc(why, 400)
	switch code {
	case "tools":
		return why + "; install them on the host (util-linux, coreutils, findutils)"
	case "overlay":
		return why + "; the sandbox needs overlayfs (modprobe overlay, or a kernel with it) and no security policy denying the mount"
	case "mount", "scratch":
		return why + "; the sandbox needs to mount tmpfs, proc and overlayfs in a private namespace (a container or an SELinux/AppArmor policy may forbid it)"
	}
	return why
}

// reportReader walks one entry's report: NUL-separated fields, contents
// with their length before them.
type reportReader struct{ b []byte }

func (r *reportReader) field() (string, bool) {
	i := bytes.IndexByte(r.b, 0)
	if i < 0 || i > 8192 {
		return "", false
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s, true
}

func (r *reportReader) bytes(n int) ([]byte, bool) {
	if n < 0 || n > len(r.b) {
		return nil, false
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out, true
}

// parseReport decodes records "P path seen statwords ”" followed by
// optional A/a (upper content or hash), T (upper symlink target), L/l and
// t (the same of the lower file). A record cut off at the end (the report
// cap) ends the list with truncated set.
func parseReport(b []byte) (effects []FileEffect, truncated bool, err error) {
	r := &reportReader{b: b}
	var cur *FileEffect
	for len(r.b) > 0 {
		tag, ok := r.field()
		if !ok {
			return effects, true, nil
		}
		switch tag {
		case "P":
			if len(effects) >= sandboxPathsMax {
				return effects, true, nil
			}
			path, ok1 := r.field()
			seen, ok2 := r.field()
			words, ok3 := r.field()
			_, ok4 := r.field()
			if !(ok1 && ok2 && ok3 && ok4) {
				return effects, true, nil
			}
			if !strings.HasPrefix(path, "/") || (seen != "-" && seen != "seen") {
				return nil, false, fmt.Errorf("malformed record for %q", trunc(path, 60))
			}
			w := strings.Fields(words)
			if len(w) != 14 {
				return nil, false, fmt.Errorf("malformed stat of %q", trunc(path, 60))
			}
			e := FileEffect{Path: path, Seen: seen == "seen", Complete: true}
			var whiteout bool
			if e.After, whiteout, err = statWords(w[:7]); err != nil {
				return nil, false, fmt.Errorf("stat of %q: %w", trunc(path, 60), err)
			}
			var gone bool
			if e.Before, gone, err = statWords(w[7:]); err != nil {
				return nil, false, fmt.Errorf("stat of %q: %w", trunc(path, 60), err)
			}
			if gone { // an earlier entry of the sandbox deleted it
				e.Before = FileState{}
			}
			if whiteout {
				e.Deleted, e.After = true, FileState{}
			}
			effects = append(effects, e)
			cur = &effects[len(effects)-1]
		case "A", "L":
			size, ok1 := r.field()
			n, err := strconv.Atoi(size)
			if !ok1 || err != nil || n < 0 || n > ContentMax {
				return nil, false, fmt.Errorf("malformed content length %q", trunc(size, 20))
			}
			data, ok := r.bytes(n)
			if cur == nil {
				return nil, false, errors.New("content before any path")
			}
			if !ok {
				cur.Complete = false
				return effects, true, nil
			}
			st := &cur.After
			if tag == "L" {
				st = &cur.Before
			}
			st.Content = bytes.Clone(data)
			s := sha256.Sum256(data)
			st.Hash = hex.EncodeToString(s[:])
		case "a", "l":
			h, ok := r.field()
			if !ok {
				return effects, true, nil
			}
			if cur == nil || len(h) < 64 || !isHex64(h[:64]) {
				return nil, false, fmt.Errorf("malformed hash %q", trunc(h, 70))
			}
			if tag == "a" {
				cur.After.Hash = h[:64]
			} else {
				cur.Before.Hash = h[:64]
			}
		case "T", "t":
			target, ok := r.field()
			if !ok {
				return effects, true, nil
			}
			if cur == nil {
				return nil, false, errors.New("symlink target before any path")
			}
			if tag == "T" {
				cur.After.Target = target
			} else {
				cur.Before.Target = target
			}
		default:
			return nil, false, fmt.Errorf("unknown record %q", trunc(tag, 10))
		}
	}
	return effects, false, nil
}

// statWords reads stat -c '%f %a %U %G %s %t %T' (or seven "-" for a path
// that does not exist).
func statWords(w []string) (FileState, bool, error) {
	if w[0] == "-" {
		return FileState{}, false, nil
	}
	raw, err1 := strconv.ParseUint(w[0], 16, 32)
	mode, err2 := strconv.ParseUint(w[1], 8, 32)
	size, err3 := strconv.ParseInt(w[4], 10, 64)
	maj, err4 := strconv.ParseUint(w[5], 16, 32)
	mnr, err5 := strconv.ParseUint(w[6], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
		return FileState{}, false, errors.New("not numbers")
	}
	st := FileState{Exists: true, Mode: uint32(mode), Owner: w[2], Group: w[3], Size: size}
	switch raw & 0o170000 {
	case 0o100000:
		st.Type = "file"
	case 0o040000:
		st.Type = "dir"
	case 0o120000:
		st.Type = "symlink"
	default:
		st.Type = "other"
	}
	whiteout := raw&0o170000 == 0o020000 && maj == 0 && mnr == 0
	return st, whiteout, nil
}
