// Package diskfree tells how much space is left for this process on the
// file system holding a directory.
package diskfree
