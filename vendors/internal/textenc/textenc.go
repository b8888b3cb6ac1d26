// Package textenc checks the encoding of a drop's marker files
// (manifest.json, recon.yaml) before they are parsed.
package textenc

import (
	"bytes"
	"fmt"
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// UTF8 returns data without a UTF-8 byte order mark (Windows editors
// write one), or an error naming the file when data is UTF-16 or UTF-32,
// with or without a byte order mark: the markers are read as UTF-8, and
// one rule for both vendors keeps problems' line numbers meaningful.
func UTF8(name string, data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, bomUTF8)
	if bytes.HasPrefix(data, bomUTF16LE) || bytes.HasPrefix(data, bomUTF16BE) || wide(data) {
		return nil, fmt.Errorf("%s is UTF-16; save it as UTF-8", name)
	}
	return data, nil
}

// wide tells UTF-16 or UTF-32 text without a byte order mark: one of its
// first two bytes is NUL and the other is not, and NUL bytes, which UTF-8
// text never holds, are a quarter or more of the file.
func wide(data []byte) bool {
	return len(data) >= 2 && (data[0] == 0) != (data[1] == 0) && bytes.Count(data, []byte{0}) >= len(data)/4
}
