package chain

// pgrphack runs the rest of argv in a new session, as 0.76's pgrphack.
func pgrphack(c *Chain, argv []string) (step, int) {
	if len(argv) < 2 {
		return step{}, usage(c, "pgrphack: usage: pgrphack child\n")
	}
	c.Sys.Setsid() // 0.76 ignores the failure (already a group leader)
	return step{argv: argv[1:]}, -1
}
