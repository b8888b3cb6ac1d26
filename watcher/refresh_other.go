//go:build !linux

package watcher

// refreshAttrs does nothing where there is no portable way to bypass the
// attribute cache of a network mount: settle must then exceed the mount's
// cache time (macOS NFS: actimeo; SMB clients: about a second).
func refreshAttrs(path string) {}
