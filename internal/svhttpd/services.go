package svhttpd

// The services of a scan directory, as svscan sees them, and the JSON
// object svhttpd reports for each: the keys of "svstat -j" plus name,
// supervised and log.

import (
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/svstat"
	"svkit/pkg/svdir"
)

// maxName is the longest service name accepted (a file name).
const maxName = 255

// ValidName reports whether name can be an entry of the scan directory that
// svscan runs: one path component, not empty, not starting with '.' (svscan
// skips dot names, and this rules out "." and ".."), without '/' or NUL.
func ValidName(name string) bool {
	if name == "" || len(name) > maxName || name[0] == '.' {
		return false
	}
	return !strings.ContainsAny(name, "/\x00")
}

// isDir reports whether path is a directory, following symlinks as svscan's
// stat does (a /service entry is usually a symlink to the real directory).
func isDir(path string) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// Tree is a scan directory.
type Tree struct {
	Dir string // absolute path of the scan directory
}

// Lookup returns the service directory of name, or "" when name is not a
// service of the tree: not a valid entry name, or not a directory.
func (t *Tree) Lookup(name string) string {
	if !ValidName(name) {
		return ""
	}
	p := t.Dir + "/" + name
	if !isDir(p) {
		return ""
	}
	return p
}

// Names lists the services in ASCII order, as svscan starts them.
func (t *Tree) Names() ([]string, error) {
	all, err := svdir.ReadNames(t.Dir)
	if err != nil {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if ValidName(n) && isDir(t.Dir+"/"+n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// Service is the object of one service whose status could be read. Log
// is the logger's object (*Service or *Failed), or nil.
type Service struct {
	Name string `json:"name"`
	svstat.Object
	Supervised bool `json:"supervised"`
	Log        any  `json:"log"`
}

// Failed is the object of one service whose status could not be read:
// Error is svstat's text ("supervise not running", ...).
type Failed struct {
	Name       string `json:"name"`
	Dir        string `json:"dir"`
	Error      string `json:"error"`
	Supervised bool   `json:"supervised"`
	Log        any    `json:"log"`
}

// Entry is what is known of one service (or its logger): exactly one of
// OK and Err is set. Log is the logger's entry, nil without DIR/log.
type Entry struct {
	OK  *Service
	Err *Failed
	Log *Entry
}

// Value is the entry as a JSON value.
func (e *Entry) Value() any {
	if e.OK != nil {
		return e.OK
	}
	return e.Err
}

// Name is the entry's name.
func (e *Entry) Name() string {
	if e.OK != nil {
		return e.OK.Name
	}
	return e.Err.Name
}

// controlledService and controlledFailed are the objects with
// may_control: whether the caller may send the service commands.
type controlledService struct {
	*Service
	MayControl bool `json:"may_control"`
}

type controlledFailed struct {
	*Failed
	MayControl bool `json:"may_control"`
}

// ValueFor is the entry as a JSON value for a caller who may (or may not)
// command the service: Value with may_control.
func (e *Entry) ValueFor(may bool) any {
	if e.OK != nil {
		return controlledService{e.OK, may}
	}
	return controlledFailed{e.Err, may}
}

// read reads one service directory: name is what the object calls it.
func read(name, dir string) *Entry {
	switch v := svstat.JSON(dir).(type) {
	case svstat.Object:
		// svstat read status only after supervise/ok had a reader.
		return &Entry{OK: &Service{Name: name, Object: v, Supervised: true}}
	case svstat.ErrorObject:
		return &Entry{Err: &Failed{Name: name, Dir: dir, Error: v.Error, Supervised: supervised(dir, v.Error)}}
	default:
		ok, _ := svdir.OK(dir)
		return &Entry{Err: &Failed{Name: name, Dir: dir, Error: "unknown state", Supervised: ok}}
	}
}

// supervised tells from svstat's error text whether supervise/ok had a
// reader: svstat checks it after the directory and down, and before it
// reads status. Only for the errors that come before is ok opened again.
func supervised(dir, text string) bool {
	switch {
	case text == "supervise not running", strings.HasPrefix(text, "unable to open "+svdir.OKPath):
		return false
	case strings.HasPrefix(text, "unable to open "+svdir.StatusPath), strings.HasPrefix(text, "unable to read "+svdir.StatusPath):
		return true
	}
	ok, _ := svdir.OK(dir)
	return ok
}

// Read returns the entry of the service name (whose directory is dir),
// with its logger's when DIR/log is a directory.
func Read(name, dir string) *Entry {
	e := read(name, dir)
	if !isDir(dir + "/log") {
		return e
	}
	e.Log = read(name+"/log", dir+"/log")
	if e.OK != nil {
		e.OK.Log = e.Log.Value()
	} else {
		e.Err.Log = e.Log.Value()
	}
	return e
}

// ReadAll reads every service of the tree, in order.
func (t *Tree) ReadAll() ([]*Entry, error) {
	names, err := t.Names()
	if err != nil {
		return nil, err
	}
	out := make([]*Entry, 0, len(names))
	for _, n := range names {
		out = append(out, Read(n, t.Dir+"/"+n))
	}
	return out, nil
}
