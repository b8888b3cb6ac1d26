//go:build !linux

// The benchmark reads /proc and uses Linux system calls to measure peak RSS
// and CPU time, so it is built on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "scandrop-bench runs on Linux only")
	os.Exit(2)
}
