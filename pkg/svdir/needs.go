package svdir

// A service's start order lives in its directory: DIR/needs/ and
// DIR/binds/ hold symbolic links to the service directories (or pid files)
// it needs. ReadNeeds lists them; NeedReady tells whether one of them is
// ready, the one rule supervise, svgroup and svscan share.

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Files of the service directory that order its start.
const (
	NeedsDir         = "needs"         // links to what must be ready before ./run starts
	BindsDir         = "binds"         // the same, and the service stops when one goes down
	NeedsTimeoutFile = "needs-timeout" // seconds to wait for the needs before a failed start
)

// UpReadyAfter is how long a service that declares no readiness protocol
// must have been up to count as ready for the services that need it.
const UpReadyAfter = time.Second

// NeedKind says what a link in needs/ or binds/ leads to.
type NeedKind int

// The kinds of need.
const (
	NeedService NeedKind = iota // a directory: a service directory
	NeedPidFile                 // a regular file: a pid file of a daemon supervised elsewhere
	NeedMissing                 // nothing: a dangling link, or a name that cannot be reached
	NeedOther                   // something else: not a service
)

// FileID identifies a file by device and inode.
type FileID struct{ Dev, Ino uint64 }

// IDOf returns the identity of what path leads to (following symlinks).
func IDOf(path string) (FileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return FileID{}, err
	}
	return FileID{st.Dev, st.Ino}, nil
}

// Need is one link in DIR/needs or DIR/binds.
type Need struct {
	Name string   // the link's name
	Path string   // DIR/needs/NAME or DIR/binds/NAME: the kernel resolves the link
	Bind bool     // the link is in binds/
	Kind NeedKind // what it leads to
	ID   FileID   // the identity of what it leads to (NeedService, NeedPidFile)
	Err  error    // why it leads nowhere (NeedMissing)
}

// ReadNeeds lists the links in dir's needs/ and binds/ directories, sorted
// by name, needs/ first. Two links to one service (same identity) are one
// need: the first is kept, a link in binds/ winning over one in needs/.
// A missing needs/ or binds/ is no error; one that cannot be read is.
func ReadNeeds(dir string) ([]Need, error) {
	var out []Need
	seen := map[FileID]int{}
	for _, sub := range []string{NeedsDir, BindsDir} {
		names, err := readNames(dir + "/" + sub)
		if err != nil {
			return out, err
		}
		for _, name := range names {
			n := lookNeed(dir+"/"+sub+"/"+name, name, sub == BindsDir)
			if n.Kind == NeedService || n.Kind == NeedPidFile {
				if i, ok := seen[n.ID]; ok {
					out[i].Bind = out[i].Bind || n.Bind
					continue
				}
				seen[n.ID] = len(out)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// readNames returns the sorted entry names of dir, none if it is missing.
func readNames(dir string) ([]string, error) {
	names, err := ReadNames(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return names, err
}

// ReadNames returns the entry names of the directory dir, sorted in byte
// order.
func ReadNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// lookNeed says what path leads to.
func lookNeed(path, name string, bind bool) Need {
	n := Need{Name: name, Path: path, Bind: bind, Kind: NeedMissing}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		n.Err = err
		return n
	}
	n.ID = FileID{st.Dev, st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		n.Kind = NeedService
	case unix.S_IFREG:
		n.Kind = NeedPidFile
	default:
		n.Kind = NeedOther
	}
	return n
}

// Problem says in words why a need can never become ready as it stands
// (missing, or not a service), "" if it can.
func (n Need) Problem() string {
	switch n.Kind {
	case NeedMissing:
		return "does not exist: " + errText(n.Err)
	case NeedOther:
		return "is not a service directory or a pid file"
	}
	return ""
}

func errText(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return ErrText(e)
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// NeedReady reports whether the need is ready at now. A service is ready
// when a supervise runs for it (supervise/ok has a reader) and:
//
//   - it is up and ready by the readiness protocol it declares
//     (supervise/info says ready=1, protocol=1), or it declares none and
//     has been up for UpReadyAfter (under a supervise that writes no
//     supervise/info, 0.76's, up for UpReadyAfter is ready); or
//   - it is down after a run started with svc -o that exited 0
//     (supervise/info says onceok=1).
//
// A pid file is ready while it names a live process. When the need is not
// ready only because of the one-second rule, wake is when it will be.
func NeedReady(n Need, now time.Time) (ready bool, wake time.Time) {
	switch n.Kind {
	case NeedService:
		return serviceReady(n.Path, now)
	case NeedPidFile:
		return PidFileLive(n.Path), time.Time{}
	}
	return false, time.Time{}
}

// serviceReady is NeedReady for a service directory.
func serviceReady(dir string, now time.Time) (bool, time.Time) {
	dfd, err := OpenDir(dir)
	if err != nil {
		return false, time.Time{}
	}
	defer unix.Close(dfd)
	if OpenOKAt(dfd) != nil {
		return false, time.Time{}
	}
	s, err := ReadState(dfd, 3, 0)
	if err != nil || s.Changing {
		return false, time.Time{}
	}
	return StateReady(s, now)
}

// StateReady applies NeedReady's rule to a state read from a supervised
// service's directory.
func StateReady(s State, now time.Time) (bool, time.Time) {
	if s.Status.Pid == 0 {
		return s.Current && s.Info.OnceOK, time.Time{}
	}
	since := int64(0)
	if s.Current {
		if !s.Info.Ready {
			return false, time.Time{}
		}
		if s.Info.Protocol {
			return true, time.Time{}
		}
		since = s.Info.ReadySince
	}
	if since == 0 {
		since, _ = UnixNano(s.Status.When)
	}
	at := time.Unix(0, since).Add(UpReadyAfter)
	if now.Before(at) {
		return false, at
	}
	return true, time.Time{}
}

// StatusDown reports whether dir's supervise/status says its service is
// down (whether or not a supervise runs for it now): what a link in binds/
// stops the service for. A missing or unreadable status says nothing.
func StatusDown(dir string) bool {
	dfd, err := OpenDir(dir)
	if err != nil {
		return false
	}
	defer unix.Close(dfd)
	r, err := ReadStatus(dfd)
	return err == nil && r.Pid == 0
}

// PidFileLive reports whether the pid file at path names a live process:
// a decimal pid greater than 1, optionally followed by white space. The
// link to it is followed (that is what the link is for); a FIFO planted in
// its place is not waited on.
func PidFileLive(path string) bool {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dfd, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return false
	}
	b, err := ReadFile(dfd, filepath.Base(path), 64)
	unix.Close(dfd)
	if err != nil {
		return false
	}
	pid, ok := ParsePid(b)
	if !ok {
		return false
	}
	err = unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}

// ParsePid parses a pid file's content: decimal digits naming a pid above
// 1, then nothing but white space.
func ParsePid(b []byte) (int, bool) {
	s := strings.TrimRight(string(b), " \t\r\n")
	if s == "" || len(s) > 10 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 1 || pid > 1<<22 {
		return 0, false
	}
	return pid, true
}

// JoinNames encodes link names for supervise/info's waitingfor key:
// separated by "/", which no file name contains.
func JoinNames(names []string) string { return strings.Join(names, "/") }

// SplitNames decodes JoinNames.
func SplitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}
