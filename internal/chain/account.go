package chain

import (
	"strconv"

	"svkit/internal/account"
	"svkit/internal/diag"
)

// userArg checks prog's arguments (account child...) and looks up the
// account; code >= 0 is the exit code of a failure already reported.
func userArg(c *Chain, prog string, argv []string) (u account.User, code int) {
	if len(argv) < 3 {
		return u, usage(c, prog+": usage: "+prog+" account child\n")
	}
	u, ok := account.LookupUser(argv[1])
	if !ok {
		return u, diag.Fatal(c.Stderr, prog, diag.ExitTemp, "unknown account ", argv[1])
	}
	return u, -1
}

func setuidgid(c *Chain, argv []string) (step, int) {
	u, code := userArg(c, "setuidgid", argv)
	if code >= 0 {
		return step{}, code
	}
	// 0.76's prot_gid: the supplementary groups become the primary gid
	// alone, then the gid; a failure of either is "unable to setgid".
	if err := c.Sys.Setgroups([]int{int(u.GID)}); err != nil {
		return step{}, diag.Fatal(c.Stderr, "setuidgid", diag.ExitTemp, "unable to setgid: ", diag.Str(err))
	}
	if err := c.Sys.Setgid(int(u.GID)); err != nil {
		return step{}, diag.Fatal(c.Stderr, "setuidgid", diag.ExitTemp, "unable to setgid: ", diag.Str(err))
	}
	if err := c.Sys.Setuid(int(u.UID)); err != nil {
		return step{}, diag.Fatal(c.Stderr, "setuidgid", diag.ExitTemp, "unable to setuid: ", diag.Str(err))
	}
	return step{argv: argv[2:]}, -1
}

func envuidgid(c *Chain, argv []string) (step, int) {
	u, code := userArg(c, "envuidgid", argv)
	if code >= 0 {
		return step{}, code
	}
	plus := []string{
		"GID=" + strconv.FormatUint(uint64(u.GID), 10),
		"UID=" + strconv.FormatUint(uint64(u.UID), 10),
	}
	return step{argv: argv[2:], plus: plus}, -1
}
