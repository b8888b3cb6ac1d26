package textsafe

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckField reports why s, a name or title that came from a drop and is
// sent on to a vendor, must not be: it is longer than maxChars characters,
// or it holds a character that other systems act on instead of showing —
// a control character (C0, C1, DEL: escape sequences, bells, line breaks),
// a bidi control (embeddings, overrides, isolates, marks, which make text
// read in another order than it is stored), a line or paragraph separator,
// or invalid UTF-8. Other invisible format characters, such as the
// zero-width joiner inside an emoji, are let through. The error is a
// phrase to follow a field's name ("project_name: ..."), with the fix; it
// shows the character escaped.
func CheckField(s string, maxChars int) error {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if unfit(r, size) {
			return fmt.Errorf("has the character %s (character %d), which other systems act on instead of showing; remove it", escapeRune(s[i:i+size], r), n)
		}
		i += size
	}
	if n > maxChars {
		return fmt.Errorf("is %d characters long, over the limit of %d; shorten it", n, maxChars)
	}
	return nil
}

func unfit(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return true
	case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp, unicode.Bidi_Control):
		return true
	}
	return false
}
