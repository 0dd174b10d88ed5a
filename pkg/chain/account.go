package chain

import (
	"strconv"

	"svkit/pkg/account"
	"svkit/pkg/diag"
)

func setuidgid(c *Chain, argv []string) (step, int) {
	if len(argv) < 3 {
		return step{}, usage(c, "setuidgid: usage: setuidgid account child\n")
	}
	name := argv[1]
	u, ok := account.LookupUser(name)
	if !ok {
		return step{}, diag.Fatal(c.Stderr, "setuidgid", diag.ExitTemp, "unknown account ", name)
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
	if len(argv) < 3 {
		return step{}, usage(c, "envuidgid: usage: envuidgid account child\n")
	}
	name := argv[1]
	u, ok := account.LookupUser(name)
	if !ok {
		return step{}, diag.Fatal(c.Stderr, "envuidgid", diag.ExitTemp, "unknown account ", name)
	}
	plus := []string{
		"GID=" + strconv.FormatUint(uint64(u.GID), 10),
		"UID=" + strconv.FormatUint(uint64(u.UID), 10),
	}
	return step{argv: argv[2:], plus: plus}, -1
}

func pgrphack(c *Chain, argv []string) (step, int) {
	if len(argv) < 2 {
		return step{}, usage(c, "pgrphack: usage: pgrphack child\n")
	}
	c.Sys.Setsid() // 0.76 ignores the failure (already a group leader)
	return step{argv: argv[1:]}, -1
}
