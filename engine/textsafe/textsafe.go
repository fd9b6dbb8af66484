// Package textsafe makes text that came from a managed host safe to show on
// the operator's terminal. A host is not trusted: its hostname, OS name,
// file contents and command output may carry terminal escape sequences
// that would retitle the window, rewrite what the operator sees, or (on
// some terminals) answer back into the input. Every face passes such text
// through this package before it reaches a terminal; it is the one place
// that decides what is shown raw.
//
// Escaped, as \u00XX (a form JSON also reads back): C0 controls, DEL and
// the C1 controls U+0080–U+009F (U+009B is a one-character CSI on some
// terminals), and the Unicode bidirectional overrides and isolates (which
// reorder what is displayed). Bytes that are not UTF-8 are shown as \xNN.
// Printable text, including backslashes, passes unchanged.
package textsafe

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Line escapes s for a one-line field (hostname, OS name, an error):
// newlines and tabs are escaped too.
func Line(s string) string { return escape(s, false) }

// Text escapes s for multi-line text (file contents, diffs, command
// output): newlines and tabs are kept, every other control is escaped.
func Text(s string) string { return escape(s, true) }

// Safe reports whether s would be shown unchanged by Text.
func Safe(s string) bool { return firstUnsafe(s, true) < 0 }

func escape(s string, multiline bool) string {
	i := firstUnsafe(s, multiline)
	if i < 0 {
		return s // the common case: no allocation
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	appendEscaped(&b, s[i:], multiline)
	return b.String()
}

// firstUnsafe returns the index of the first byte that needs escaping, or -1.
func firstUnsafe(s string, multiline bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeASCII(c, multiline) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || unsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

func unsafeASCII(c byte, multiline bool) bool {
	if multiline && (c == '\n' || c == '\t') {
		return false
	}
	return c < 0x20 || c == 0x7f
}

func unsafeRune(r rune) bool {
	return r >= 0x80 && r <= 0x9f || // C1 controls
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || // bidi embeddings, overrides, isolates
		r == 0x200e || r == 0x200f || r == 0x061c // bidi marks
}

const hexDigits = "0123456789abcdef"

func appendEscaped(b *strings.Builder, s string, multiline bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeASCII(c, multiline) {
				writeU(b, rune(c))
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		case unsafeRune(r):
			writeU(b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}

func writeU(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>uint(shift))&15])
	}
}

// Writer escapes everything written through it as Text does, for a face
// that prints only plain text (batch output): nothing written to it can
// reach the terminal as a control sequence. A UTF-8 sequence split across
// two writes is held back until its end arrives.
type Writer struct {
	w    io.Writer
	hold []byte // an incomplete UTF-8 sequence at the end of the last write
}

// NewWriter returns a Writer that escapes onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p onto the underlying writer. It reports len(p) on
// success: the escaped form is longer than p.
func (w *Writer) Write(p []byte) (int, error) {
	buf := append(w.hold, p...)
	w.hold = nil
	// Hold back a trailing incomplete (but so far valid) UTF-8 sequence.
	if cut := incompleteTail(buf); cut < len(buf) {
		w.hold = append([]byte(nil), buf[cut:]...)
		buf = buf[:cut]
	}
	s := string(buf)
	if _, err := io.WriteString(w.w, Text(s)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a held-back incomplete sequence (escaped as bytes).
func (w *Writer) Flush() error {
	if len(w.hold) == 0 {
		return nil
	}
	s := string(w.hold)
	w.hold = nil
	_, err := io.WriteString(w.w, Text(s))
	return err
}

// incompleteTail returns where a trailing, not yet complete UTF-8 sequence
// starts in b, or len(b) when b does not end in one.
func incompleteTail(b []byte) int {
	for back := 1; back <= 3 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c < 0x80 {
			return len(b)
		}
		if c >= 0xc0 { // a start byte: is the sequence it starts complete?
			need := 2
			switch {
			case c >= 0xf0:
				need = 4
			case c >= 0xe0:
				need = 3
			}
			if back < need {
				return len(b) - back
			}
			return len(b)
		}
	}
	return len(b)
}

// Error returns err unchanged when its text is safe to show, else an error
// whose text is escaped (as Text) and which still unwraps to err.
func Error(err error) error {
	if err == nil || Safe(err.Error()) {
		return err
	}
	return &escapedError{err}
}

type escapedError struct{ err error }

func (e *escapedError) Error() string { return Text(e.err.Error()) }
func (e *escapedError) Unwrap() error { return e.err }
