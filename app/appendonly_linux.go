package app

import (
	"os"

	"golang.org/x/sys/unix"
)

// fsAppendFL is FS_APPEND_FL of linux/fs.h, which x/sys does not name.
const fsAppendFL = 0x20

// appendOnly says whether path has the file system's append-only
// attribute (chattr +a), which keeps even its owner from rewriting it.
func appendOnly(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	return err == nil && flags&fsAppendFL != 0
}
