package multilog

// trace, when not nil, records what multilog does with its input: set only
// by a test build (trace_testhooks.go), for the chaos test's post-mortem.
var trace func(format string, args ...any)
