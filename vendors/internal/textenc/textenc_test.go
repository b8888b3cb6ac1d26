package textenc

import (
	"strings"
	"testing"
)

func TestUTF8(t *testing.T) {
	tests := []struct {
		name, in, out, err string
	}{
		{"plain", "a: 1\n", "a: 1\n", ""},
		{"UTF-8 BOM", "\uFEFFa: 1\n", "a: 1\n", ""},
		{"empty", "", "", ""},
		{"UTF-16LE BOM", "\xFF\xFEa\x00", "", "x.json is UTF-16; save it as UTF-8"},
		{"UTF-16BE BOM", "\xFE\xFF\x00a", "", "x.json is UTF-16; save it as UTF-8"},
		{"UTF-32LE BOM", "\xFF\xFE\x00\x00a\x00\x00\x00", "", "x.json is UTF-16"},
		{"UTF-16LE, no BOM", "{\x00\"\x00a\x00\"\x00}\x00", "", "x.json is UTF-16"},
		{"UTF-16BE, no BOM", "\x00{\x00\"\x00a\x00\"\x00}", "", "x.json is UTF-16"},
		{"one NUL in UTF-8", `{"a":"` + "\x00" + strings.Repeat("b", 20) + `"}`, `{"a":"` + "\x00" + strings.Repeat("b", 20) + `"}`, ""},
	}
	for _, tt := range tests {
		out, err := UTF8("x.json", []byte(tt.in))
		switch {
		case tt.err == "" && (err != nil || string(out) != tt.out):
			t.Errorf("%s: %q, %v; want %q", tt.name, out, err, tt.out)
		case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
			t.Errorf("%s: %v; want %q", tt.name, err, tt.err)
		}
	}
}
