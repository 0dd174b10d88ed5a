package multilog

// Match reports whether pattern matches the whole of line, with 0.76's
// rules: only '*' is special and it cannot be escaped; a '*' followed by a
// character c matches the shortest run of bytes not containing c (possibly
// empty); a trailing '*' matches the rest of the line. There is no
// backtracking, so "+*fatal*" fails on a line whose first 'f' does not start
// "fatal".
func Match(pattern string, line []byte) bool {
	p := 0
	for {
		if p == len(pattern) {
			return len(line) == 0
		}
		c := pattern[p]
		p++
		if c == '*' {
			if p == len(pattern) {
				return true
			}
			next := pattern[p]
			for {
				if len(line) == 0 {
					return false
				}
				if line[0] == next {
					break
				}
				line = line[1:]
			}
			continue
		}
		if len(line) == 0 || line[0] != c {
			return false
		}
		line = line[1:]
	}
}
