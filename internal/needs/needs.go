// Package needs walks the graph that services' needs/ and binds/ links
// make (pkg/svdir reads the links): the cycles supervise ignores, and the
// dependency order in which svscan -o stops a tree and svgroup starts and
// stops a group. Every user walks the graph the same way, depth first in
// the links' name order, and drops the links that lead back to where the
// walk came from: a cycle is reported, never waited on.
package needs

import (
	"path/filepath"
	"strings"

	"svkit/pkg/svdir"
)

// Cycles returns the needs of the service directory dir (by link name)
// that lead back to dir, each with the cycle in words: "a -> b -> a",
// where a is name (dir's name) and the rest are the link names followed.
func Cycles(dir, name string) map[string]string {
	self, err := svdir.IDOf(dir)
	if err != nil {
		return nil
	}
	top, _ := svdir.ReadNeeds(dir)
	var out map[string]string
	for _, n := range top {
		if n.Kind != svdir.NeedService {
			continue
		}
		w := walker{self: self, seen: map[svdir.FileID]bool{}}
		if trail := w.find(n.Path, n.ID, []string{name, n.Name}); trail != nil {
			if out == nil {
				out = map[string]string{}
			}
			out[n.Name] = strings.Join(trail, " -> ")
		}
	}
	return out
}

// walker looks for a path of needs back to self.
type walker struct {
	self svdir.FileID
	seen map[svdir.FileID]bool
}

// find returns the trail of link names from the service at path (of
// identity id) back to self, nil if there is none.
func (w *walker) find(path string, id svdir.FileID, trail []string) []string {
	if id == w.self {
		return trail
	}
	if w.seen[id] {
		return nil
	}
	w.seen[id] = true
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // keeps paths short however deep the walk goes
	}
	next, _ := svdir.ReadNeeds(path)
	for _, n := range next {
		if n.Kind != svdir.NeedService {
			continue
		}
		if t := w.find(n.Path, n.ID, append(trail[:len(trail):len(trail)], n.Name)); t != nil {
			return t
		}
	}
	return nil
}

// Graph is the needs graph among a set of service directories: links to
// services outside the set are not part of it.
type Graph struct {
	Dirs  []string
	Needs [][]int  // Needs[i]: the indexes of the dirs that Dirs[i] needs, back links dropped
	Cycle []string // the cycles broken, in words ("a -> b -> a")
}

// Build reads the needs of every dir and keeps the links among them,
// dropping, as the depth-first walk in the order of dirs finds them, the
// links that close a cycle.
func Build(dirs []string) *Graph {
	g := &Graph{Dirs: dirs, Needs: make([][]int, len(dirs))}
	byID := map[svdir.FileID]int{}
	for i, d := range dirs {
		if id, err := svdir.IDOf(d); err == nil {
			if _, dup := byID[id]; !dup {
				byID[id] = i
			}
		}
	}
	type link struct {
		to   int
		name string
	}
	out := make([][]link, len(dirs))
	for i, d := range dirs {
		ns, _ := svdir.ReadNeeds(d)
		for _, n := range ns {
			if j, ok := byID[n.ID]; ok && n.Kind == svdir.NeedService && j != i {
				out[i] = append(out[i], link{j, n.Name})
			}
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(dirs))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, l := range out[i] {
			switch color[l.to] {
			case grey:
				g.Cycle = append(g.Cycle, cycleText(dirs, stack, l.to))
			case white:
				visit(l.to)
				g.Needs[i] = append(g.Needs[i], l.to)
			default:
				g.Needs[i] = append(g.Needs[i], l.to)
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range dirs {
		if color[i] == white {
			visit(i)
		}
	}
	return g
}

// cycleText names the cycle from stack's entry to back to it.
func cycleText(dirs []string, stack []int, to int) string {
	var names []string
	on := false
	for _, i := range stack {
		if i == to {
			on = true
		}
		if on {
			names = append(names, filepath.Base(filepath.Clean(dirs[i])))
		}
	}
	names = append(names, filepath.Base(filepath.Clean(dirs[to])))
	return strings.Join(names, " -> ")
}

// Levels returns each dir's depth: 0 for a dir needing nothing in the
// set, else one more than the deepest of its needs. Starting level by
// level starts every need first; stopping in the reverse order stops
// every dependent first.
func (g *Graph) Levels() []int { return longest(g.Needs) }

// Dependents returns, for each dir, the indexes of the dirs that need it.
func (g *Graph) Dependents() [][]int {
	dep := make([][]int, len(g.Dirs))
	for i, ns := range g.Needs {
		for _, j := range ns {
			dep[j] = append(dep[j], i)
		}
	}
	return dep
}

// Waves groups the dirs' indexes by level, lowest first: the order to
// start them in.
func (g *Graph) Waves() [][]int { return group(g.Levels()) }

// StopWaves groups the dirs' indexes by height (0 for a dir nothing in the
// set needs, else one more than the highest of its dependents), lowest
// first: the order to stop them in. A dir outside any dependency is in the
// first wave.
func (g *Graph) StopWaves() [][]int { return group(longest(g.Dependents())) }

// longest returns, for each node of the acyclic graph whose edges from i
// are edges[i], the length of the longest path from it: 0 for a node with
// no edges, else one more than the longest of the nodes it leads to.
func longest(edges [][]int) []int {
	lv := make([]int, len(edges))
	done := make([]bool, len(edges))
	var depth func(i int) int
	depth = func(i int) int {
		if done[i] {
			return lv[i]
		}
		d := 0
		for _, j := range edges[i] {
			d = max(d, depth(j)+1)
		}
		lv[i], done[i] = d, true
		return d
	}
	for i := range edges {
		depth(i)
	}
	return lv
}

// group returns the indexes of lv grouped by value, lowest first.
func group(lv []int) [][]int {
	var waves [][]int
	for i, l := range lv {
		for len(waves) <= l {
			waves = append(waves, nil)
		}
		waves[l] = append(waves[l], i)
	}
	return waves
}
