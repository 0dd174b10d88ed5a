package chain

import (
	"bytes"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/internal/eintr"
	"svkit/internal/sysfile"
)

// EnvValue turns the content of an envdir file into the environment
// change 0.76 makes for the file called name: an empty file unsets the
// variable ("name"); otherwise the first line, without trailing spaces and
// tabs, with each NUL turned into a newline, is the value ("name=value").
// Names are not checked: a file "X=Y" holding "a" yields "X=Y=a".
func EnvValue(name string, content []byte) string {
	if len(content) == 0 {
		return name
	}
	return name + "=" + string(firstLine(content))
}

// firstLine is envdir's processing of a non-empty file's content.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	out := make([]byte, len(b))
	for i, ch := range b {
		if ch == 0 {
			ch = '\n'
		}
		out[i] = ch
	}
	return out
}

func envdir(c *Chain, argv []string) (step, int) {
	if len(argv) < 3 {
		// 0.76 exits 111 here, not 100.
		usage(c, "envdir: usage: envdir dir child\n")
		return step{}, diag.ExitTemp
	}
	dir := argv[1]
	fatal := func(parts ...string) (step, int) {
		return step{}, diag.Fatal(c.Stderr, "envdir", diag.ExitTemp, parts...)
	}
	orig, err := sysfile.Open(".", unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fatal("unable to switch to current directory: ", diag.Str(err))
	}
	defer unix.Close(orig)
	if err := chdir(dir); err != nil {
		return fatal("unable to switch to directory ", dir, ": ", diag.Str(err))
	}
	plus, name, err := readEnvDir()
	if err != nil {
		if name == "" {
			return fatal("unable to read directory ", dir, ": ", diag.Str(err))
		}
		return fatal("unable to read ", dir, "/", name, ": ", diag.Str(err))
	}
	err = eintr.Do(func() error { return unix.Fchdir(orig) })
	if err != nil {
		return fatal("unable to switch to starting directory: ", diag.Str(err))
	}
	return step{argv: argv[2:], plus: plus}, -1
}

func chdir(dir string) error {
	return eintr.Do(func() error { return unix.Chdir(dir) })
}

// readEnvDir reads the current directory as envdir does, in directory
// order. On error it returns the file name involved ("" for the
// directory itself).
func readEnvDir() (plus []string, name string, err error) {
	fd, err := sysfile.Open(".", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, "", err
	}
	defer unix.Close(fd)
	// 0.76 keeps its read buffer between files: a file that vanishes
	// (or a dangling symlink, ENOENT) reuses the previous file's
	// processed value, terminated by the NUL 0.76 appends (which then
	// reads as a trailing newline). Replicated for identical output.
	var sa []byte
	buf := make([]byte, 8192)
	for {
		n, err := eintr.Retry(func() (int, error) { return unix.Getdents(fd, buf) })
		if err != nil {
			return nil, "", err
		}
		if n == 0 {
			return plus, "", nil
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, nm := range names {
			if nm[0] == '.' {
				continue
			}
			content, err := readEnvFile(nm)
			switch {
			case err == unix.ENOENT:
				// keep sa
			case err != nil:
				return nil, nm, err
			default:
				sa = content
			}
			if len(sa) == 0 {
				plus = append(plus, nm)
				continue
			}
			v := firstLine(sa)
			plus = append(plus, nm+"="+string(v))
			sa = append(v, 0)
		}
	}
}

// maxEnvLine bounds what is read of one envdir file when no newline comes:
// a value that long could never pass execve (the kernel takes at most
// 128 KiB per string), so reading on would only waste memory (0.76 reads a
// 1 GB file whole).
const maxEnvLine = 16 << 20

// readEnvFile reads a file like 0.76's openreadclose (O_NONBLOCK, so a
// FIFO without a writer reads as empty), but stops at the first newline:
// only the first line is used. A first line longer than maxEnvLine is
// refused with E2BIG ("argument list too long").
func readEnvFile(name string) ([]byte, error) {
	fd, err := sysfile.Open(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return sysfile.ReadLine(fd, maxEnvLine)
}
