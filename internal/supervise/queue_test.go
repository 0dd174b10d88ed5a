package supervise

import (
	"sync"
	"testing"
)

// TestQueue: values pushed by many goroutines at once all arrive, in each
// pusher's order, and C says when some wait.
func TestQueue(t *testing.T) {
	t.Parallel()
	q := NewQueue[int]()
	if _, ok := q.Pop(); ok {
		t.Fatal("a value in an empty queue")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				q.Push(g*1000 + i)
			}
		}()
	}
	wg.Wait()
	select {
	case <-q.C():
	default:
		t.Fatal("C did not say that values wait")
	}
	last := map[int]int{0: -1, 1: -1, 2: -1, 3: -1}
	n := 0
	for v, ok := q.Pop(); ok; v, ok = q.Pop() {
		g, i := v/1000, v%1000
		if i != last[g]+1 {
			t.Fatalf("pusher %d: %d after %d", g, i, last[g])
		}
		last[g] = i
		n++
		if n == 2000 {
			break
		}
	}
	if rest := q.Drain(); n+len(rest) != 4000 {
		t.Fatalf("%d values, want 4000", n+len(rest))
	}
	if len(q.Drain()) != 0 {
		t.Fatal("values after a drain")
	}
}
