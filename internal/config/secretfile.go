package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadSecretFile reads a secret file (app_secret_file, secret_file,
// token_file) as Load does: the content without trailing CR/LF, which may
// not be empty. The daemon reads app_secret_file again while a vendor
// refuses the credentials, so that fixing the file is enough. The error
// names the file, never its content.
func ReadSecretFile(path string) (Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %s: %v", path, err)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return Secret(s), nil
}
