// Package textsafe makes text that came from a drop (folder and file names,
// manifest ids and titles, problem messages, vendor answers) safe to show:
// bounded in length, and with nothing in it that a terminal, a log viewer
// or a browser would act on instead of print.
//
// It has no dependencies, so that every sink — vendors, pipeline, watcher,
// ops, the commands — can use the one rule.
package textsafe

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escape returns s with every character a terminal would act on instead of
// print shown as a Go escape: C0 and C1 controls and DEL (ESC is \x1b, CR
// \r, LF \n, BEL \a), invisible format characters such as the bidi
// overrides (U+202E is \u202e) and line separators, and each byte of
// invalid UTF-8 (\xff). The result is valid, printable UTF-8.
//
// Backslashes are left as they are: the result is for people, not to be
// unquoted, and a sink that quotes (a logfmt line, JSON) escapes them once
// itself; escaping them here too would show every backslash doubled.
func Escape(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(escapeRune(s[i:i+size], r))
		i += size
	}
	return b.String()
}

// Clean is Escape then Cut to n bytes, without escaping more of s than
// it keeps: a 100 MB name costs what its first n bytes cost.
func Clean(s string, n int) string {
	if len(s) <= n && safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), n) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		e := escapeRune(s[i:i+size], r)
		if b.Len()+len(e) > n-markerRoom {
			// Near the end: keep the rest if all of it fits, else mark
			// what is left out.
			if len(s)-i <= n-b.Len() {
				if rest := Escape(s[i:]); b.Len()+len(rest) <= n {
					b.WriteString(rest)
					return b.String()
				}
			}
			b.WriteString(marker(len(s) - i))
			return b.String()
		}
		b.WriteString(e)
		i += size
	}
	return b.String()
}

// Cut returns s cut to at most n bytes, at a character boundary,
// with a marker saying how many bytes were left out ("…[+2048 bytes]").
// It does not escape.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := max(0, n-markerRoom)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + marker(len(s)-keep)
}

// markerRoom is the room kept for the marker, whose length varies with the
// count it carries ("…[+" and "bytes]" plus up to 12 digits).
const markerRoom = 24

func marker(n int) string { return "…[+" + strconv.Itoa(n) + " bytes]" }

// ShortPath shortens a slash-separated path longer than n bytes in the
// middle, keeping whole elements from its start and its end, which say
// most about where it is: "images/a/…/y/z.jpg". An element too long by
// itself is shortened in its middle, so that a file keeps its extension:
// "images/000-nnnn…nnnn.jpg". It does not escape.
func ShortPath(p string, n int) string {
	if len(p) <= n {
		return p
	}
	if n < 48 { // no room for elements: just the ends
		return cutMiddle(p, n)
	}
	const mid = "/…/"
	elems := strings.Split(p, "/")
	last := elems[len(elems)-1]
	if len(elems) == 1 {
		return cutMiddle(last, n)
	}
	last = cutMiddle(last, n/2)
	room := n - len(last) - len(mid)
	// Whole elements from the start, up to half the room; then from the
	// end, before the last one, with what is left.
	head, i := "", 0
	for ; i < len(elems)-1; i++ {
		next := head + elems[i] + "/"
		if len(next) > room/2 {
			break
		}
		head = next
	}
	if head == "" {
		head = cutMiddle(elems[0], room/2) + "/"
		i = 1
	}
	tail, k := "", len(elems)-2
	for ; k >= i; k-- {
		next := elems[k] + "/" + tail
		if len(head)+len(next) > room {
			break
		}
		tail = next
	}
	if k < i { // everything fits after all
		return head + tail + last
	}
	return strings.TrimSuffix(head, "/") + mid + tail + last
}

// cutMiddle shortens s to at most n bytes by replacing its middle with
// "…", at character boundaries.
func cutMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	if n < 2*len(ell) {
		h := max(n, 0)
		for h > 0 && !utf8.RuneStart(s[h]) {
			h--
		}
		return s[:h]
	}
	keep := n - len(ell)
	h := keep / 2
	for h > 0 && !utf8.RuneStart(s[h]) {
		h--
	}
	t := len(s) - (keep - h)
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:h] + ell + s[t:]
}

// safe reports whether s needs no escaping.
func safe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}

// escapeRune is the text shown for one rune of s, whose UTF-8 form (or the
// single invalid byte) is raw.
func escapeRune(raw string, r rune) string {
	switch {
	case r == utf8.RuneError && len(raw) == 1:
		return `\x` + hex2(raw[0])
	case r == ' ':
		return raw
	case r < utf8.RuneSelf && (r < 0x20 || r == 0x7f):
		q := strconv.QuoteRune(r) // '\x1b', '\n', '\a'
		return q[1 : len(q)-1]
	case r >= utf8.RuneSelf && !unicode.IsPrint(r):
		q := strconv.QuoteRuneToASCII(r) // '\u202e', '\u0085'
		return q[1 : len(q)-1]
	}
	return raw
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// EscapeJSON rewrites JSON text (as encoding/json writes it: valid UTF-8,
// ASCII controls already escaped) so that the characters Escape would
// escape, such as C1 controls and bidi overrides, are \u escapes too. The
// JSON means the same; a terminal it is printed on shows them instead of
// obeying them.
func EscapeJSON(b []byte) []byte {
	if safeJSON(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= utf8.RuneSelf && (r == utf8.RuneError && size == 1 || !unicode.IsPrint(r)) {
			if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

func safeJSON(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}
