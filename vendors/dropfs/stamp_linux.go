package dropfs

import (
	"io/fs"
	"syscall"
)

func sysStamp(s *Stamp, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.CTime = st.Ctim.Nano()
		s.Dev, s.Ino, s.Nlink = uint64(st.Dev), st.Ino, uint64(st.Nlink)
	}
}
