package svhttpd

// Callers over TCP (-l): they have no SO_PEERCRED, so they present a token.
// The token directory (-a) holds one file per client, named after the
// client, holding the lowercase hex SHA-256 of its token on one line: no
// secret is on disk. The client acts with the uid of the file's owner, the
// primary gid and the supplementary groups /etc/passwd and /etc/group give
// that uid (os/user: without cgo it reads only those files), under the same
// rule as a caller on the unix socket: root is served directly, anyone else
// through the helper, with those credentials.
//
// The directory is read again for every request, so adding or removing a
// client needs no restart. A directory that others may write, and a file
// that is not a regular file, is a symbolic link, or may be written by
// others than its owner, is not trusted.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"svkit/internal/diag"
	"svkit/pkg/svdir"
)

// Limits of the token directory.
const (
	maxTokenFile = 128  // a hash line is 65 bytes
	maxClients   = 4096 // files read for a Bearer token
	maxToken     = 1024 // bytes of a presented token
)

// Tokens is a token directory.
type Tokens struct {
	Dir string
}

// errUntrusted marks a directory or file svhttpd will not take tokens from.
var errUntrusted = errors.New("writable by others")

// CheckDir reports why dir cannot be a token directory: it must be a
// directory (not a symbolic link), owned by root or by svhttpd's user,
// that neither its group nor others may write.
func CheckDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if st.Mode&0022 != 0 {
		return errUntrusted
	}
	if st.Uid != 0 && int(st.Uid) != unix.Geteuid() {
		return errors.New("owned by uid " + strconv.FormatUint(uint64(st.Uid), 10))
	}
	return nil
}

// client is one file of the token directory.
type client struct {
	name string
	uid  uint32
	hash [sha256.Size * 2]byte // lowercase hex
}

// readClient reads the file name of the directory dfd: a regular file, no
// symbolic link, that neither its group nor others may write, holding 64
// lowercase hex digits and an optional newline.
func readClient(dfd int, name string) (*client, error) {
	b, st, err := svdir.ReadFileStat(dfd, name, maxTokenFile)
	if err != nil {
		return nil, err
	}
	if st.Mode&0022 != 0 {
		return nil, errUntrusted
	}
	c := &client{name: name, uid: st.Uid}
	if !parseHash(b, &c.hash) {
		return nil, errors.New("not a lowercase hex SHA-256 on one line")
	}
	return c, nil
}

// parseHash checks b: 64 lowercase hex digits, then nothing or a newline.
func parseHash(b []byte, out *[sha256.Size * 2]byte) bool {
	if len(b) == len(out)+1 && b[len(out)] == '\n' {
		b = b[:len(out)]
	}
	if len(b) != len(out) {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	copy(out[:], b)
	return true
}

// errStr is diag.Str for an errno, else the error's own text.
func errStr(err error) string {
	if diag.Errno(err) != 0 {
		return diag.Str(err)
	}
	return err.Error()
}

// hashOf is the lowercase hex SHA-256 of a token.
func hashOf(token string) [sha256.Size * 2]byte {
	sum := sha256.Sum256([]byte(token))
	var h [sha256.Size * 2]byte
	hex.Encode(h[:], sum[:])
	return h
}

// Credentials parses an Authorization header: "Basic" with user and
// password (user is then the client's name), or "Bearer" with a token
// (user empty). ok is false for anything else.
func Credentials(header string) (user, token string, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" || len(rest) > maxToken || strings.ContainsAny(rest, " \t") {
			return "", "", false
		}
		return "", rest, true
	case strings.EqualFold(scheme, "Basic"):
		if len(rest) > 2*maxToken {
			return "", "", false
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", "", false
		}
		user, token, found = strings.Cut(string(b), ":")
		if !found || !ValidName(user) || token == "" || len(token) > maxToken {
			return "", "", false
		}
		return user, token, true
	}
	return "", "", false
}

// Authenticate finds the client of an Authorization header: with Basic,
// the file named after the user; with Bearer, the file whose hash is the
// token's (every file is compared). Hashes are compared in constant time.
// A nil client and nil error: no such client, or a wrong token; an error:
// the directory, or the client's file, is not to be trusted or cannot be
// read (a warning for the log: the caller is refused all the same).
func (tk *Tokens) Authenticate(header string) (*client, error) {
	name, token, ok := Credentials(header)
	if !ok {
		return nil, nil
	}
	if err := CheckDir(tk.Dir); err != nil {
		return nil, errors.New("token directory " + tk.Dir + ": " + errStr(err))
	}
	dfd, err := unix.Open(tk.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errors.New("unable to open " + tk.Dir + ": " + diag.Str(err))
	}
	defer unix.Close(dfd)
	h := hashOf(token)
	if name != "" {
		c, err := readClient(dfd, name)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, nil
			}
			return nil, errors.New("unable to read " + tk.Dir + "/" + name + ": " + errStr(err))
		}
		if subtle.ConstantTimeCompare(c.hash[:], h[:]) != 1 {
			return nil, nil
		}
		return c, nil
	}
	names, err := readNames(dfd)
	if err != nil {
		return nil, errors.New("unable to read " + tk.Dir + ": " + diag.Str(err))
	}
	var found *client
	for _, n := range names {
		c, err := readClient(dfd, n)
		if err != nil {
			continue // a file that is not a client's is nobody's token
		}
		if subtle.ConstantTimeCompare(c.hash[:], h[:]) == 1 && found == nil {
			found = c
		}
	}
	return found, nil
}

// readNames lists the entries of the directory dfd that may name a client
// (as service names: no dot files, so editors' and atomic writers'
// temporary files are not clients), at most maxClients.
func readNames(dfd int) ([]string, error) {
	d, err := unix.Dup(dfd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(d), "tokens")
	defer f.Close()
	all, err := f.Readdirnames(maxClients)
	if err != nil && err != io.EOF {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if ValidName(n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// peerOfClient is the identity a client acts with: its file owner's uid,
// and that user's primary gid and groups from /etc/passwd and /etc/group.
func peerOfClient(c *client) (*Peer, error) {
	id := strconv.FormatUint(uint64(c.uid), 10)
	u, err := user.LookupId(id)
	if err != nil {
		return nil, errors.New("owner of client " + c.name + ": " + err.Error())
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, errors.New("owner of client " + c.name + ": bad gid " + u.Gid)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, errors.New("groups of client " + c.name + ": " + err.Error())
	}
	groups := make([]uint32, 0, len(gids))
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			continue
		}
		groups = append(groups, uint32(n))
	}
	return &Peer{Uid: c.uid, Gid: uint32(gid), Groups: groups, Known: true, Client: c.name}, nil
}

// RequireToken wraps h for a TCP listener: a request without a valid
// token is answered 401 with WWW-Authenticate; one with a valid token
// reaches h as the client's owner. What makes a token directory or file
// untrusted is logged as a warning, and the caller refused 401 alike.
func (s *Server) RequireToken(tk *Tokens, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tk.Authenticate(r.Header.Get("Authorization"))
		if err != nil {
			s.logf(prog + ": warning: " + err.Error())
		}
		if c == nil {
			securityHeaders(w.Header())
			w.Header().Set("WWW-Authenticate", `Basic realm="svhttpd", charset="UTF-8"`)
			jsonError(w, http.StatusUnauthorized, "a valid token is required")
			return
		}
		p, err := peerOfClient(c)
		if err != nil {
			s.logf(prog + ": warning: " + err.Error())
			jsonError(w, http.StatusUnauthorized, "a valid token is required")
			return
		}
		h.ServeHTTP(w, r.WithContext(withPeerValue(r.Context(), p)))
	})
}
