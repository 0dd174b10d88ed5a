package chain

import (
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/pathexec"
	"svkit/internal/sysfile"
)

// MainPackagePrefix is the main package path of svkit's programs.
const MainPackagePrefix = "svkit/cmd/"

// Identify returns the name of the svkit chain-loader that exec'ing file
// on path would run, or "" for any other program. Only files whose base
// name is a chain-loader's name are examined, and only the candidate
// execve would pick: the first one that exists, is a regular file and is
// executable by this process on a file system mounted with exec. It is
// svkit's when its Go build information names svkit/cmd/NAME as its main
// package. Anything uncertain answers "" and leaves the decision to a real
// exec.
func Identify(file, path string) string {
	base := file[strings.LastIndexByte(file, '/')+1:]
	if !IsTool(base) {
		return ""
	}
	for _, cand := range pathexec.Candidates(file, path) {
		fd, err := sysfile.Open(cand, unix.O_RDONLY, 0)
		if err == unix.ENOENT {
			continue // execve fails the same way and the search goes on
		}
		if err != nil {
			return ""
		}
		name, next := identifyFD(fd, cand, base)
		unix.Close(fd)
		if !next {
			return name
		}
	}
	return ""
}

// identifyFD examines one opened candidate; next says that execve would
// fail on it with an error that continues the search.
func identifyFD(fd int, cand, base string) (name string, next bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return "", false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", true // EACCES
	}
	if unix.Faccessat(unix.AT_FDCWD, cand, unix.X_OK, unix.AT_EACCESS) != nil {
		return "", true // EACCES
	}
	var sfs unix.Statfs_t
	if unix.Fstatfs(fd, &sfs) != nil || sfs.Flags&unix.ST_NOEXEC != 0 {
		return "", false
	}
	if mainPackagePath(sysfile.ReaderAt(fd)) != MainPackagePrefix+base {
		return "", false
	}
	return base, false
}
