package testenv

import (
	"io"
	"math/rand"
)

// ChunkReader returns Data in reads of random sizes from 1 to Max, drawn
// from Rand: input as a pipe may cut it, for code that must not care where
// reads end.
type ChunkReader struct {
	Data []byte
	Rand *rand.Rand
	Max  int
}

// Read returns the next chunk, io.EOF when Data is exhausted.
func (c *ChunkReader) Read(p []byte) (int, error) {
	if len(c.Data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.Rand.Intn(c.Max), len(p), len(c.Data))
	copy(p, c.Data[:n])
	c.Data = c.Data[n:]
	return n, nil
}
