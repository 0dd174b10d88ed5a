// Package svlog is the svlog program and the library behind it: find a
// service's log directory from its running logger (Find), read the last
// lines of one or many services' logs without reading whole archives
// (LastLines, Merge), and follow them across multilog's rotations in time
// order (Follower, Follow). svhttpd's lines endpoint uses the same calls.
package svlog

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"

	"svkit/internal/diag"
	"svkit/internal/localtime"
	"svkit/internal/sgetopt"
)

const (
	prog     = "svlog"
	synopsis = "svlog [ -f ] [ -n lines ] [ -d name ] dir ..."
)

// Opened is what Open found for a list of service directories.
type Opened struct {
	Lines     []Line      // the last lines of every service, merged by time
	Followers []*Follower // one per service read, positioned after Lines
	Sources   []Source    // where each follower reads, in the same order
	Failed    bool        // a service could not be read (not merely without a logger)
	Errors    []error     // what was warned about: *FindError (errors.Is ErrNoLogger when there is no log) or *ReadError
}

// Open finds the log of every service directory in dirs, reads its last n
// lines and merges them by time. Notes and problems go to warn, once per
// service; a service without a logger is skipped. The followers hold the
// open current files: Follow them, or Close them.
func Open(dirs []string, n int, pick string, warn func(string)) *Opened {
	o := &Opened{}
	var groups [][]Line
	for _, d := range dirs {
		src, err := Find(d, pick)
		if err != nil {
			o.Errors = append(o.Errors, err)
			warn(err.Error())
			if !isNoLogger(err) {
				o.Failed = true
			}
			continue
		}
		if len(src.All) > 1 && pick == "" {
			warn(src.Service + ": logger writes " + strings.Join(src.All, " ") + "; reading " + src.Dir + " (-d picks another)")
		}
		t, err := LastLines(src.Name, src.Dir, n)
		if err != nil {
			o.Errors = append(o.Errors, err)
			warn(src.Service + ": " + err.Error())
			o.Failed = true
			continue
		}
		fl, err := NewFollower(src.Name, src.Dir, t)
		if err != nil {
			t.Current.Close()
			o.Errors = append(o.Errors, err)
			warn(src.Service + ": " + err.Error())
			o.Failed = true
			continue
		}
		groups = append(groups, t.Lines)
		o.Followers = append(o.Followers, fl)
		o.Sources = append(o.Sources, src)
	}
	o.Lines = Merge(groups)
	return o
}

func isNoLogger(err error) bool {
	fe, ok := err.(*FindError)
	return ok && fe.Err == ErrNoLogger
}

// Merge merges lists of lines, each in its file order, by time; lines of
// one list keep their order, and ties go to the earlier list.
func Merge(groups [][]Line) []Line {
	total := 0
	for _, g := range groups {
		total += len(g)
	}
	out := make([]Line, 0, total)
	pos := make([]int, len(groups))
	for len(out) < total {
		best := -1
		for i, g := range groups {
			if pos[i] < len(g) && (best < 0 || g[pos[i]].Before(&groups[best][pos[best]])) {
				best = i
			}
		}
		out = append(out, groups[best][pos[best]])
		pos[best]++
	}
	return out
}

// Main is the svlog program.
func Main(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(context.Background(), argv, stdout, stderr)
}

func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	follow, n, pick := false, 10, ""
	p := sgetopt.New(argv, "fn:d:", stderr)
	for c := p.Next(); c != sgetopt.EOF; c = p.Next() {
		switch c {
		case 'f':
			follow = true
		case 'n':
			v, err := strconv.Atoi(p.Arg)
			if err != nil || v < 0 {
				return diag.Usage(stderr, prog, synopsis)
			}
			n = v
		case 'd':
			pick = p.Arg
		default:
			return diag.Usage(stderr, prog, synopsis)
		}
	}
	dirs := p.Rest()
	if len(dirs) == 0 {
		return diag.Usage(stderr, prog, synopsis)
	}
	warn := func(s string) { diag.Warn(stderr, prog, s) }
	o := Open(dirs, n, pick, warn)
	w := bufio.NewWriterSize(stdout, 64<<10)
	f := &Formatter{}
	f.Local.Zone = localtime.Load()
	var line []byte
	write := func(ls []Line) bool {
		for i := range ls {
			line = f.Append(line[:0], &ls[i])
			if _, err := w.Write(line); err != nil {
				return false
			}
		}
		return w.Flush() == nil
	}
	if !write(o.Lines) {
		closeAll(o.Followers)
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to write output")
	}
	if !follow {
		closeAll(o.Followers)
		if o.Failed {
			return diag.ExitTemp
		}
		return 0
	}
	if len(o.Followers) == 0 {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "no log to follow")
	}
	for _, src := range o.Sources {
		if !src.Running {
			warn(src.Service + ": no logger runs; following " + src.Dir + " as it is")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writeFailed := false
	err := Follow(ctx, o.Followers, Window, func(ls []Line) {
		if !write(ls) {
			writeFailed = true
			cancel()
		}
	}, warn)
	if writeFailed {
		return diag.Fatal(stderr, prog, diag.ExitTemp, "unable to write output")
	}
	if err != nil && ctx.Err() == nil {
		return diag.Fatal(stderr, prog, diag.ExitTemp, err.Error())
	}
	return 0
}

func closeAll(fls []*Follower) {
	for _, fl := range fls {
		fl.Close()
	}
}
