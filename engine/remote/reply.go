package remote

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The reply protocol: every host program (probe.sh, fetch.sh, apply.sh)
// answers in lines of one shape, a tag and then fields separated by one
// space, parsed by one parser (readLine) that returns an error and never
// panics. Free text from the host (hostname, OS name, a state line, a
// branch name) is one line by construction on the host (read -r) and is
// escaped here (cleanText) before anything shows it; command output and
// file contents travel as base64.
//
//	F KEY TEXT                 fact: KEY hostname|machine-id|os|time (Unix seconds)|revert (armed)
//	S-BEGIN, S TEXT, S-END     the state file's header lines
//	S-NOTFILE                  the state path is not a regular file
//	E INDEX 0|1                path INDEX of the request is absent|present
//	T TYPE|SIZE|MODE|USER|GROUP  stat of the next present path
//	H HEX64                    sha256 of the next present regular file
//	HEX64  NAME, \HEX64  NAME  the same as sha256sum prints it (probe); NAME is not read
//	U INDEX RC                 guard INDEX exited RC
//	C INDEX BASE64|-           fetch: content of path INDEX, or not a file
//	M SEQ UCS SCS RC WC RB WB  apply: an exec entry's CPU (centiseconds) and IO (bytes, or -), before its R
//	R SEQ RESULT RC CS OUT     apply: entry result (CS centiseconds; OUT base64|-)
//	BUSY PID|?                 apply: another push holds the host lock
//	STALE CODE [ARG]           apply: the host moved since the plan
//	ARMED SECONDS              apply: a revert is armed (--must-come-back)
//	END [POSITION [HASH]]      the program finished
//
// Caps, checked while reading (a host that sends more fails the step and
// costs no more memory than the cap):
//   - a line: MaxReplyLine (64 KiB); a fetch line: MaxFetch in base64;
//   - a fact or a branch name: 1 KiB; a state line: 4 KiB; a user or
//     group name: 256 bytes; command output: 16 KiB (the host keeps the
//     tail); an index: below the request's count; a sequence number: 2^63;
//   - a whole reply: probe 256 KiB + 1 KiB per path and guard; fetch
//     MaxFetch in base64 + 64 bytes per path; apply 64 KiB + 24 KiB per
//     entry.
const (
	MaxReplyLine = 64 << 10
	// MaxFetch is the largest old content a fetch returns for a diff.
	MaxFetch      = 1 << 20
	maxFact       = 1 << 10
	maxStateLine  = 4 << 10
	maxName       = 256
	maxOutput     = 16 << 10
	maxStaleArg   = 1 << 10
	probeBase     = 256 << 10
	probePerItem  = 1 << 10
	applyBase     = 64 << 10
	applyPerEntry = 24 << 10
)

// Line tags.
const (
	tagFact       = "F"
	tagStateBegin = "S-BEGIN"
	tagState      = "S"
	tagStateEnd   = "S-END"
	tagStateNot   = "S-NOTFILE"
	tagExists     = "E"
	tagStat       = "T"
	tagHash       = "H"
	tagGuard      = "U"
	tagContent    = "C"
	tagResult     = "R"
	tagUsage      = "M"
	tagBusy       = "BUSY"
	tagStale      = "STALE"
	tagEnd        = "END"
	tagArmed      = "ARMED"
)

// replyLine is one parsed line; which fields are set depends on Tag.
type replyLine struct {
	Tag    string
	Key    string // F: the fact; STALE: the code
	Text   string // F, S, STALE: escaped free text; BUSY: pid or "?"
	Index  int    // E, U, C
	Flag   bool   // E: present
	Code   int    // U, R: exit status
	Seq    uint64 // R
	Result string // R
	CS     int64  // R: centiseconds
	Data   []byte // R output, C content; nil for "-"
	Hash   string // H, END
	Pos    uint64 // END
	HasPos bool   // END carried a position
	Stat   statLine
	Usage  Usage // M
}

// statLine is a T line's fields.
type statLine struct {
	Type         string // file, dir, symlink, other
	Size         int64
	Mode         uint32
	Owner, Group string
}

// results an apply entry can report.
var entryResults = map[string]bool{"ok": true, "skipped": true, "failed": true, "reboot-pending": true, "rebooting": true, "cancelled": true}

// staleCodes are the reasons apply.sh refuses a host, and whether an
// argument follows.
var staleCodes = map[string]bool{"position": true, "branch": true, "appeared": true, "removed": true,
	"meta": false, "content": false, "statedir": false, "statewrite": false, "tampered": false,
	"armed": false, "reverted": false, "keep": false}

var facts = map[string]bool{"hostname": true, "machine-id": true, "os": true, "time": true, "revert": true}

// errLine is a malformed reply line, quoted (escaped and cut) in the error.
func errLine(l []byte, why string) error {
	return fmt.Errorf("malformed reply line %s: %s", cleanText(string(l[:min(len(l), 60)])), why)
}

// parseLine parses one line (without its newline). indexes bounds E, U
// and C indexes (the request's count).
func parseLine(l []byte, indexes int) (replyLine, error) {
	tag, rest, _ := bytes.Cut(l, []byte(" "))
	if h := bytes.TrimPrefix(tag, []byte(`\`)); len(h) == 64 && isHex64(string(h)) {
		// sha256sum's own line: the probe passes it on unread (a shell
		// loop over it would be one more process per host).
		return replyLine{Tag: tagHash, Hash: string(h)}, nil
	}
	r := replyLine{Tag: string(tag)}
	fields := func(n int) ([][]byte, error) {
		f := bytes.Split(rest, []byte(" "))
		if len(rest) == 0 || len(f) != n {
			return nil, errLine(l, fmt.Sprintf("want %d fields", n))
		}
		return f, nil
	}
	index := func(b []byte) (int, error) {
		n, err := strconv.Atoi(string(b))
		if err != nil || n < 0 || n >= indexes || len(b) > 7 {
			return 0, errLine(l, "index out of range")
		}
		return n, nil
	}
	switch r.Tag {
	case tagStateBegin, tagStateEnd, tagStateNot:
		if len(rest) != 0 || bytes.IndexByte(l, ' ') >= 0 {
			return r, errLine(l, "takes no fields")
		}
	case tagFact:
		k, v, _ := bytes.Cut(rest, []byte(" "))
		if !facts[string(k)] {
			return r, errLine(l, "unknown fact")
		}
		if len(v) > maxFact {
			return r, errLine(l, "fact longer than 1 KiB")
		}
		r.Key, r.Text = string(k), cleanText(string(v))
	case tagState:
		if len(rest) > maxStateLine {
			return r, errLine(l, "state line longer than 4 KiB")
		}
		r.Text = string(rest) // ParseState checks it, and escapes what it quotes
	case tagExists:
		f, err := fields(2)
		if err != nil {
			return r, err
		}
		if r.Index, err = index(f[0]); err != nil {
			return r, err
		}
		switch string(f[1]) {
		case "0", "1":
			r.Flag = f[1][0] == '1'
		default:
			return r, errLine(l, "want 0 or 1")
		}
	case tagStat:
		f := strings.Split(string(rest), "|")
		if len(f) != 5 {
			return r, errLine(l, "want TYPE|SIZE|MODE|USER|GROUP")
		}
		switch f[0] {
		case "regular file", "regular empty file":
			r.Stat.Type = "file"
		case "directory":
			r.Stat.Type = "dir"
		case "symbolic link":
			r.Stat.Type = "symlink"
		default:
			r.Stat.Type = "other"
		}
		size, err1 := strconv.ParseInt(f[1], 10, 64)
		mode, err2 := strconv.ParseUint(f[2], 8, 32)
		if err1 != nil || err2 != nil || size < 0 || mode > 0o7777 {
			return r, errLine(l, "bad size or mode")
		}
		if !validName(f[3]) || !validName(f[4]) {
			return r, errLine(l, "bad user or group name")
		}
		r.Stat.Size, r.Stat.Mode, r.Stat.Owner, r.Stat.Group = size, uint32(mode), f[3], f[4]
	case tagHash:
		if !isHex64(string(rest)) {
			return r, errLine(l, "want a sha256")
		}
		r.Hash = string(rest)
	case tagGuard:
		f, err := fields(2)
		if err != nil {
			return r, err
		}
		if r.Index, err = index(f[0]); err != nil {
			return r, err
		}
		if r.Code, err = exitCodeField(f[1]); err != nil {
			return r, errLine(l, "bad exit status")
		}
	case tagContent:
		f, err := fields(2)
		if err != nil {
			return r, err
		}
		if r.Index, err = index(f[0]); err != nil {
			return r, err
		}
		if string(f[1]) != "-" {
			if base64.StdEncoding.DecodedLen(len(f[1])) > MaxFetch+3 {
				return r, errLine(l, "content larger than the fetch limit")
			}
			if r.Data, err = base64.StdEncoding.DecodeString(string(f[1])); err != nil {
				return r, errLine(l, "bad base64")
			}
			if r.Data == nil {
				r.Data = []byte{}
			}
		}
	case tagResult:
		f, err := fields(5)
		if err != nil {
			return r, err
		}
		seq, err1 := strconv.ParseUint(string(f[0]), 10, 63)
		code, err2 := exitCodeField(f[2])
		cs, err3 := strconv.ParseInt(string(f[3]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || cs < 0 || !entryResults[string(f[1])] {
			return r, errLine(l, "want SEQ RESULT RC CS OUTPUT")
		}
		r.Seq, r.Result, r.Code, r.CS = seq, string(f[1]), code, cs
		if string(f[4]) != "-" {
			if base64.StdEncoding.DecodedLen(len(f[4])) > maxOutput+3 {
				return r, errLine(l, "output longer than 16 KiB")
			}
			if r.Data, err = base64.StdEncoding.DecodeString(string(f[4])); err != nil {
				return r, errLine(l, "bad base64 output")
			}
		}
	case tagUsage:
		// SEQ UCS SCS RCHAR WCHAR RBYTES WBYTES [PEAK]: a program
		// prepared before PEAK was measured has no PEAK.
		f, err := fields(8)
		if err != nil {
			f7, err7 := fields(7)
			if err7 != nil {
				return r, err
			}
			f = append(f7, []byte("-"))
		}
		seq, err := strconv.ParseUint(string(f[0]), 10, 63)
		if err != nil {
			return r, errLine(l, "want SEQ UCS SCS RCHAR WCHAR RBYTES WBYTES PEAK")
		}
		var n [7]int64
		for i, b := range f[1:] {
			if string(b) == "-" && i >= 2 {
				n[i] = -1
				continue
			}
			// At most 2^53: a counter, not a place to smuggle a huge value
			// into sums and figures.
			v, err := strconv.ParseInt(string(b), 10, 64)
			if err != nil || v < 0 || v > 1<<53 {
				return r, errLine(l, "want SEQ UCS SCS RCHAR WCHAR RBYTES WBYTES PEAK (counts, or - for IO and PEAK)")
			}
			n[i] = v
		}
		r.Seq = seq
		r.Usage = Usage{UserCPU: time.Duration(n[0]) * 10 * time.Millisecond, SysCPU: time.Duration(n[1]) * 10 * time.Millisecond,
			ReadChars: n[2], WriteChars: n[3], ReadBytes: n[4], WriteBytes: n[5], PeakMem: n[6]}
	case tagBusy:
		if string(rest) != "?" && (len(rest) == 0 || len(rest) > 10 || strings.Trim(string(rest), "0123456789") != "") {
			return r, errLine(l, "want a pid")
		}
		r.Text = string(rest)
	case tagStale:
		code, arg, hasArg := bytes.Cut(rest, []byte(" "))
		if needArg, ok := staleCodes[string(code)]; !ok || needArg != hasArg {
			return r, errLine(l, "unknown reason")
		}
		if len(arg) > maxStaleArg {
			return r, errLine(l, "reason longer than 1 KiB")
		}
		r.Key, r.Text = string(code), cleanText(string(arg))
		switch r.Key {
		case "appeared", "removed":
			i, err := index(arg)
			if err != nil {
				return r, err
			}
			r.Index = i
		case "position":
			if _, err := strconv.ParseUint(r.Text, 10, 64); err != nil {
				r.Text = "?" // a corrupt state file: the plan would have said so
			}
		}
	case tagArmed:
		if n, err := strconv.ParseUint(string(rest), 10, 31); err != nil || n == 0 {
			return r, errLine(l, "want SECONDS")
		}
	case tagEnd:
		if len(rest) == 0 {
			break
		}
		p, h, _ := bytes.Cut(rest, []byte(" "))
		pos, err := strconv.ParseUint(string(p), 10, 64)
		if err != nil || len(h) > 0 && !isHex64(string(h)) {
			return r, errLine(l, "want POSITION HASH")
		}
		r.Pos, r.HasPos, r.Hash = pos, true, string(h)
	default:
		return r, errLine(l, "unknown tag")
	}
	return r, nil
}

// exitCodeField parses an exit status: 0–255, or -1 for none.
func exitCodeField(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 || n > 255 {
		return 0, errors.New("bad exit status")
	}
	return n, nil
}

// validName is a user or group name as stat prints it: no spaces or
// control characters, not too long. (UNKNOWN for ids without a name.)
func validName(s string) bool {
	if s == "" || len(s) > maxName || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '|' {
			return false
		}
	}
	return true
}

// cleanText makes host text safe to keep and show: invalid UTF-8 and
// control characters are written as \xNN escapes (a backslash as \\).
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// replyReader reads a step's reply one line at a time, each capped: from
// a stream as it arrives (apply), or from a reply already in memory
// (probe, fetch: no copy, no buffer of the line cap's size).
type replyReader struct {
	r       *bufio.Reader
	data    []byte // the rest of an in-memory reply, when r is nil
	maxLine int
	indexes int
	n       int // lines read
}

func newReplyReader(r io.Reader, maxLine, indexes int) *replyReader {
	return &replyReader{r: bufio.NewReaderSize(r, maxLine+1), maxLine: maxLine, indexes: indexes}
}

func newReplyBytes(data []byte, maxLine, indexes int) *replyReader {
	return &replyReader{data: data, maxLine: maxLine, indexes: indexes}
}

// next returns the next line; io.EOF after the last. A line longer than
// the cap is an error; the rest of it is skipped.
func (rr *replyReader) next() (replyLine, error) {
	l, tooLong, err := rr.line()
	if err != nil {
		return replyLine{}, err
	}
	rr.n++
	if tooLong || len(l) > rr.maxLine {
		return replyLine{}, fmt.Errorf("reply line %d is longer than %d bytes", rr.n, rr.maxLine)
	}
	return parseLine(l, rr.indexes)
}

// line is the next line without its newline; tooLong when it did not fit
// the stream's buffer (its rest is skipped).
func (rr *replyReader) line() (l []byte, tooLong bool, err error) {
	if rr.r == nil {
		if len(rr.data) == 0 {
			return nil, false, io.EOF
		}
		i := bytes.IndexByte(rr.data, '\n')
		if i < 0 {
			return nil, false, errCutLine
		}
		l, rr.data = rr.data[:i], rr.data[i+1:]
		return l, false, nil
	}
	l, err = rr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		for err == bufio.ErrBufferFull {
			_, err = rr.r.ReadSlice('\n')
		}
		return nil, true, nil
	}
	if err == io.EOF && len(l) > 0 {
		return nil, false, errCutLine
	}
	if err != nil {
		return nil, false, err
	}
	return l[:len(l)-1], false, nil
}

// errCutLine is a reply that stops in the middle of a line.
var errCutLine = errors.New("reply ends in the middle of a line (host went away?)")

// errReplyTooLarge is the error of a step whose host sent more than its cap.
var errReplyTooLarge = errors.New("reply larger than its cap")

// capWriter passes on at most limit bytes of a step's output; past that it
// drops the rest, remembers the overflow and calls over once (which ends
// the step), so a host that answers without end costs no memory.
type capWriter struct {
	mu       sync.Mutex
	w        io.Writer
	n, limit int64
	over     func()
	exceeded bool
}

func (c *capWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exceeded {
		return len(p), nil
	}
	if c.n+int64(len(p)) > c.limit {
		c.exceeded = true
		if c.over != nil {
			c.over()
		}
		return len(p), nil
	}
	c.n += int64(len(p))
	return c.w.Write(p)
}

func (c *capWriter) tooLarge() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exceeded
}
