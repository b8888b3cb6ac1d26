package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// MaxSecretFile bounds a secret file (app_secret_file, secret_file,
// token_file). A secret is a few dozen bytes; anything larger is the wrong
// file, and a path such as /dev/zero must not grow the daemon until it is
// killed.
const MaxSecretFile = 64 << 10

// ReadSecretFile reads a secret file (app_secret_file, secret_file,
// token_file) as Load does: the content without trailing CR/LF, which may
// not be empty. The daemon reads app_secret_file again while a vendor
// refuses the credentials, so that fixing the file is enough. The error
// names the file, never its content.
//
// Only a regular file of at most MaxSecretFile bytes is read. A symlink to
// one is fine (Docker and Kubernetes secrets are symlinks); a FIFO, a
// device or a directory is refused without blocking: the file is opened
// non-blocking where the system allows it and checked once open, so a path
// swapped between a check and the open is refused too.
func ReadSecretFile(path string) (Secret, error) {
	f, err := openSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is %s, not a regular file; point the key at the file holding the secret", path, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxSecretFile {
		return "", fmt.Errorf("%s is %d bytes; a secret file holds the secret alone (at most %d bytes): is it the right file?", path, fi.Size(), MaxSecretFile)
	}
	// The size is checked again while reading: the file may grow.
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	if len(data) > MaxSecretFile {
		return "", fmt.Errorf("%s is over %d bytes; a secret file holds the secret alone: is it the right file?", path, MaxSecretFile)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return Secret(s), nil
}

func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// fileKind names what a non-regular file is, for the error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file (" + m.Type().String() + ")"
}
