package remote

import (
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
	sandboxLineMax    = 64 << 10
	sandboxPathsMax   = 20000
	sandboxExecsMax   = 10000
	sandboxReasonMax  = 4096
	sandboxSkippedMax = 100
)

// ParseSandbox reads the sandbox step's reply. It never panics: anything
// malformed is an error naming the line.
func ParseSandbox(out []byte) (*SandboxResult, error) {
	res := &SandboxResult{}
	buf := out
	cur := func(seq uint64) (*ExecReport, error) {
		if n := len(res.Execs); n > 0 && res.Execs[n-1].Seq == seq {
			return &res.Execs[n-1], nil
		}
		return nil, fmt.Errorf("report for seq %d out of order", seq)
	}
	ended := false
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 || i > sandboxLineMax {
			return nil, errors.New("reply ended early (host went away?)")
		}
		l := string(buf[:i])
		buf = buf[i+1:]
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
		case "S":
			if len(f) != 2 || res.Stopped != 0 {
				return nil, bad()
			}
			seq, err := strconv.ParseUint(f[0], 10, 64)
			what, err2 := b64(f[1], 4096)
			if err != nil || err2 != nil || seq == 0 {
				return nil, bad()
			}
			res.Stopped = seq
			res.StopReason = "an earlier entry changes " + cleanText(string(what)) + ", which the sandbox itself starts with full privileges inside it"
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
			if len(f) != 3 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			rc, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				return nil, bad()
			}
			r, err := cur(seq)
			if err != nil {
				return nil, err
			}
			r.ExitCode = rc
			switch Cap(f[2]) {
			case CapTime, CapProcs, CapSpace, CapOutput:
				r.Cap = Cap(f[2])
			case "-":
			default:
				return nil, bad()
			}
		case "U":
			code, err := strconv.Atoi(rest)
			if err != nil {
				return nil, bad()
			}
			res.Refused = code
		case "B":
			// B SEQ LENGTH, then that many bytes and a newline.
			if len(f) != 2 {
				return nil, bad()
			}
			seq, err1 := strconv.ParseUint(f[0], 10, 64)
			n, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil || n < 0 {
				return nil, bad()
			}
			if n >= len(buf) {
				return nil, errors.New("reply ended early (host went away?)")
			}
			if buf[n] != '\n' {
				return nil, bad()
			}
			blob := buf[:n]
			buf = buf[n+1:]
			r, err := cur(seq)
			if err != nil {
				return nil, err
			}
			if len(r.Effects) >= sandboxPathsMax {
				r.Truncated = true
				break
			}
			if err := parseReport(blob, r); err != nil {
				return nil, fmt.Errorf("report of seq %d: %w", seq, err)
			}
		default:
			return nil, bad()
		}
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

// reportReader walks one chunk of an entry's report: NUL-separated
// fields, then the data they name.
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

// line is the data up to the next newline, which it drops.
func (r *reportReader) line() (string, bool) {
	i := bytes.IndexByte(r.b, '\n')
	if i < 0 || i > 8192 {
		return "", false
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s, true
}

// deferred is a datum a record names, to be read after the records.
type deferred struct {
	tag  string // A L (content), a l (hash), T t (target), O (output)
	size int
	fx   int // index into the effects
}

// parseReport decodes one chunk (sandbox.sh, sb_chunk) into r: records
// "P path seen statwords" with A SIZE, a, T (upper content, hash,
// target), L SIZE, l, t (the same before), O SIZE (the output); then D and
// the data in order: targets NUL-terminated, sha256sum lines, contents;
// then END. A chunk cut short (the reply cap) keeps what is whole and
// sets Truncated; one whose data does not end at END is refused (a host
// file changed size while it was read).
func parseReport(b []byte, r *ExecReport) error {
	rd := &reportReader{b: b}
	base := len(r.Effects)
	var want []deferred
	cut := func() error { r.Truncated = true; return nil }
	for {
		tag, ok := rd.field()
		if !ok {
			return cut()
		}
		if tag == "D" {
			break
		}
		switch tag {
		case "!": // a path went away while the sandbox read it
			return cut()
		case "P":
			if len(r.Effects) >= sandboxPathsMax {
				return cut()
			}
			path, ok1 := rd.field()
			seen, ok2 := rd.field()
			words, ok3 := rd.field()
			if !(ok1 && ok2 && ok3) {
				return cut()
			}
			if !strings.HasPrefix(path, "/") || (seen != "-" && seen != "seen") {
				return fmt.Errorf("malformed record for %q", trunc(path, 60))
			}
			w := strings.Fields(words)
			if len(w) != 14 {
				return fmt.Errorf("malformed stat of %q", trunc(path, 60))
			}
			e := FileEffect{Path: path, Seen: seen == "seen", Complete: true}
			var whiteout, gone bool
			var err error
			if e.After, whiteout, err = statWords(w[:7]); err != nil {
				return fmt.Errorf("stat of %q: %w", trunc(path, 60), err)
			}
			if e.Before, gone, err = statWords(w[7:]); err != nil {
				return fmt.Errorf("stat of %q: %w", trunc(path, 60), err)
			}
			if gone { // an earlier entry of the sandbox deleted it
				e.Before = FileState{}
			}
			if whiteout {
				e.Deleted, e.After = true, FileState{}
			}
			r.Effects = append(r.Effects, e)
		case "A", "L", "O":
			size, ok1 := rd.field()
			n, err := strconv.Atoi(size)
			if !ok1 || err != nil || n < 0 || (tag != "O" && n > ContentMax) {
				return fmt.Errorf("malformed content length %q", trunc(size, 20))
			}
			if tag == "O" {
				r.OutputSize = int64(n)
				want = append(want, deferred{tag: tag, size: min(n, OutputShown)})
				continue
			}
			if len(r.Effects) == base {
				return errors.New("content before any path")
			}
			want = append(want, deferred{tag: tag, size: n, fx: len(r.Effects) - 1})
		case "a", "l", "T", "t":
			if len(r.Effects) == base {
				return errors.New("a hash or target before any path")
			}
			want = append(want, deferred{tag: tag, fx: len(r.Effects) - 1})
		default:
			return fmt.Errorf("unknown record %q", trunc(tag, 10))
		}
	}
	// The data comes by kind: targets, hashes, contents, the output.
	for _, kinds := range []string{"Tt", "al", "AL", "O"} {
		for _, d := range want {
			if !strings.Contains(kinds, d.tag) {
				continue
			}
			var st *FileState
			if d.tag != "O" {
				e := &r.Effects[d.fx]
				st = &e.After
				if strings.ContainsAny(d.tag, "Llt") {
					st = &e.Before
				}
			}
			switch d.tag {
			case "T", "t":
				target, ok := rd.field()
				if !ok {
					r.Effects[d.fx].Complete = false
					return cut()
				}
				st.Target = target
			case "a", "l":
				l, ok := rd.line()
				l = strings.TrimPrefix(l, "\\")
				if !ok || len(l) < 64 || !isHex64(l[:64]) {
					r.Effects[d.fx].Complete = false
					return cut()
				}
				st.Hash = l[:64]
			default:
				data, ok := rd.bytes(d.size)
				if !ok {
					if d.tag != "O" {
						r.Effects[d.fx].Complete = false
					}
					return cut()
				}
				if d.tag == "O" {
					r.Output = bytes.Clone(data)
					continue
				}
				st.Content = bytes.Clone(data)
				sum := sha256.Sum256(data)
				st.Hash = hex.EncodeToString(sum[:])
			}
		}
	}
	if string(rd.b) != "END" {
		return errors.New("the report's data does not match its records (did a file on the host change while the plan read it? plan again)")
	}
	return nil
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
