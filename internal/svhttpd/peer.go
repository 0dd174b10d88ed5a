package svhttpd

// The caller on the other end of a unix socket, as the kernel saw it when
// it connected: uid, gid and pid from SO_PEERCRED, the supplementary groups
// from SO_PEERGROUPS. Nothing comes from /etc/group, which would grant a
// group the caller dropped. (A caller over TCP is the owner of its token's
// file instead: see auth.go.)

import (
	"context"
	"errors"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Peer is the identity of a connected caller.
type Peer struct {
	Uid, Gid uint32
	Pid      int32
	Groups   []uint32
	Known    bool   // false for a TCP (metrics) connection: nobody in particular
	Client   string // the token's client over TCP (see auth.go); Pid is then 0
}

type peerKey struct{}

// withPeer is the http.Server's ConnContext: it records the caller of a
// unix connection in the context. A connection whose credentials cannot be
// read gets an unknown Peer, which may read but not command.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return context.WithValue(ctx, peerKey{}, &Peer{})
	}
	p, err := peerOf(uc)
	if err != nil {
		return context.WithValue(ctx, peerKey{}, &Peer{})
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// withPeerValue records p as the caller in ctx.
func withPeerValue(ctx context.Context, p *Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// peerFrom returns the caller recorded by withPeer.
func peerFrom(ctx context.Context) *Peer {
	if p, ok := ctx.Value(peerKey{}).(*Peer); ok {
		return p
	}
	return &Peer{}
}

// peerOf reads the credentials of the process at the other end of c.
func peerOf(c *net.UnixConn) (*Peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var p *Peer
	var opErr error
	err = rc.Control(func(fd uintptr) {
		var cred *unix.Ucred
		cred, opErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if opErr != nil {
			return
		}
		var groups []uint32
		groups, opErr = peerGroups(int(fd))
		if opErr != nil {
			return
		}
		p = &Peer{Uid: cred.Uid, Gid: cred.Gid, Pid: cred.Pid, Groups: groups, Known: true}
	})
	if err != nil {
		return nil, err
	}
	return p, opErr
}

// maxGroups is NGROUPS_MAX of Linux.
const maxGroups = 65536

// peerGroups reads SO_PEERGROUPS: the supplementary groups the peer had
// when it connected. x/sys/unix has no helper for it; the kernel answers
// ERANGE with the size it needs when the buffer is too small.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 64)
	for {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch {
		case e == 0:
			return buf[:n/4], nil
		case e == unix.ERANGE && n/4 > uint32(len(buf)) && n/4 <= maxGroups:
			buf = make([]uint32, n/4)
		case e == unix.ERANGE:
			return nil, errors.New("too many groups")
		default:
			return nil, syscall.Errno(e)
		}
	}
}
