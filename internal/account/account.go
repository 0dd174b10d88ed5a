// Package account looks up users in /etc/passwd the way glibc's "files"
// NSS module does, without cgo, so static binaries behave like 0.76's
// getpwnam on systems whose accounts live in /etc/passwd. Accounts that
// only other NSS modules know (LDAP, sssd, systemd's dynamic users) are
// not found: that is this package's documented limitation.
//
// Names are compared byte for byte; a name that looks like a number is
// still a name ("0" is the user called "0", not uid 0).
package account

import (
	"bytes"

	"svkit/internal/sysfile"
)

// PasswdFile is the file LookupUser reads.
const PasswdFile = "/etc/passwd"

// User is what the chain-loaders need from a passwd entry.
type User struct {
	Name string
	UID  uint32
	GID  uint32
}

// LookupUser finds name in /etc/passwd. As with getpwnam, a file that
// cannot be read finds nothing.
func LookupUser(name string) (User, bool) {
	data, err := sysfile.ReadFile(PasswdFile)
	if err != nil {
		return User{}, false
	}
	return FindUser(data, name)
}

// FindUser returns the first well-formed entry of passwd text data whose
// name is name. Like glibc, it skips leading blanks, empty lines and lines
// starting with '#', and lines whose uid or gid field is not a number.
func FindUser(data []byte, name string) (User, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		u, ok := parseLine(line)
		if ok && u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// parseLine parses one passwd line: name:passwd:uid:gid:gecos:dir:shell.
func parseLine(line []byte) (User, bool) {
	for len(line) > 0 && isSpace(line[0]) {
		line = line[1:]
	}
	if len(line) == 0 || line[0] == '#' {
		return User{}, false
	}
	name, rest, ok := field(line)
	if !ok {
		return User{}, false
	}
	_, rest, ok = field(rest) // password
	if !ok {
		return User{}, false
	}
	uid, rest, ok := number(rest)
	if !ok {
		return User{}, false
	}
	gid, _, ok := number(rest)
	if !ok {
		return User{}, false
	}
	return User{Name: string(name), UID: uid, GID: gid}, true
}

// field splits off a ':'-terminated field. A missing ':' ends the line:
// glibc then reads the remaining fields as empty, which makes the numeric
// fields invalid, so callers treat it as the end.
func field(s []byte) ([]byte, []byte, bool) {
	i := bytes.IndexByte(s, ':')
	if i < 0 {
		return s, nil, true
	}
	return s[:i], s[i+1:], true
}

// number parses a numeric field with strtoul's rules (leading blanks, an
// optional sign, overflow saturating at the maximum), converted to 32 bits
// like glibc's cast to uid_t. The number must be followed by ':' or the end
// of the line.
func number(s []byte) (uint32, []byte, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			over = true
		}
		v = v*10 + d
		i++
	}
	if i == start {
		return 0, nil, false
	}
	if over {
		v = ^uint64(0)
	} else if neg {
		v = -v
	}
	switch {
	case i == len(s):
		return uint32(v), nil, true
	case s[i] == ':':
		return uint32(v), s[i+1:], true
	}
	return 0, nil, false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
