package svstat

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"svkit/internal/localtime"
	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// normalize replaces what changes from run to run in svstat -l output:
// local times, pids, counts of seconds and of restarts or failures.
func normalize(s string) string {
	for _, r := range []struct{ re, to string }{
		{`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`, "TIME"},
		{`pid \d+`, "pid P"},
		{`\d+ seconds?`, "S seconds"},
		{`restarts: \d+`, "restarts: N"},
		{`, \d+ times since`, ", N times since"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.to)
	}
	return s
}

// Lines of svstat -l that several states share.
const (
	downWanted       = "state: down since TIME, wanted up"
	restarting       = "restarts: N since wanted up"
	nextStart        = "next start: TIME (in S seconds)"
	noLog            = "output: no log service: supervise's stderr (svscan's, or readproctitle's under svscanboot)"
	superviseRunning = "supervise: running (pid P)"
)

func failedTwice(in *svdir.Info) bool { return in.StartFailures >= 2 }
func isUp(in *svdir.Info) bool        { return in.State == svdir.StateUp }

// TestLong runs svkit's supervise on services in each of the states svstat
// -l explains and checks its output line by line; plain svstat on the same
// directory stays 0.76's one line.
func TestLong(t *testing.T) {
	sv := testenv.Prog(t, "supervise")
	root := t.TempDir()
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		cmd   string // letters sent once supervise runs
		until func(in *svdir.Info) bool
		want  []string // after the "DIR: " line of 0.76, before the supervise line
	}{
		{
			name:  "crash loop",
			setup: func(dir string) { testenv.WriteScript(t, dir+"/run", "exit 3\n") },
			until: func(in *svdir.Info) bool { return in.Restarts >= 2 && in.State == svdir.StateDown },
			want:  []string{downWanted, restarting, "last exit: code 3 at TIME", nextStart, noLog},
		},
		{
			name: "not executable",
			setup: func(dir string) {
				os.WriteFile(dir+"/run", []byte("#!/bin/sh\nexec sleep 100\n"), 0644)
			},
			until: failedTwice,
			want:  []string{downWanted, restarting, nextStart, "start error: run is not executable (chmod +x run), N times since TIME", noLog},
		},
		{
			name:  "missing run",
			setup: func(dir string) {},
			until: failedTwice,
			want:  []string{downWanted, restarting, nextStart, "start error: run not found, N times since TIME", noLog},
		},
		{
			name: "paused, with a logger",
			setup: func(dir string) {
				testenv.WriteScript(t, dir+"/run", "exec sleep 100\n")
				testenv.WriteScript(t, dir+"/log/run", "exec sleep 100\n")
			},
			cmd:   "p",
			until: isUp,
			want:  []string{"state: up since TIME, wanted up", "ready: yes, since TIME", "output: DIR/log: up (pid P) S seconds"},
		},
		{
			name: "waiting for needs",
			setup: func(dir string) {
				testenv.WriteScript(t, dir+"/run", "exec sleep 100\n")
				os.MkdirAll(dir+"/needs", 0755)
				os.Symlink("/", dir+"/needs/db")
			},
			until: func(in *svdir.Info) bool { return len(in.WaitingFor) == 1 },
			want:  []string{downWanted, "waiting for: db", noLog},
		},
		{
			name: "waiting for readiness",
			setup: func(dir string) {
				testenv.WriteScript(t, dir+"/run", "exec sleep 100\n")
				os.WriteFile(dir+"/notify-socket", nil, 0644)
			},
			until: isUp,
			want:  []string{"state: up since TIME, wanted up", "ready: no, waiting for READY=1 on its notify socket", noLog},
		},
		{
			name: "gave up",
			setup: func(dir string) {
				testenv.WriteScript(t, dir+"/run", "exit 3\n")
				os.WriteFile(dir+"/permafail", []byte("2 60\n"), 0644)
			},
			until: func(in *svdir.Info) bool { return in.Failed },
			want:  []string{"state: down since TIME, wanted down", "failed: died 2 times in S seconds (exit 3) at TIME; svc -u to retry", restarting, "last exit: code 3 at TIME", noLog},
		},
		{
			name: "back-off, wanted down",
			setup: func(dir string) {
				testenv.WriteScript(t, dir+"/run", "kill -9 $$\n")
				os.WriteFile(dir+"/backoff", []byte("60 30\n"), 0644)
			},
			until: func(in *svdir.Info) bool { return in.Restarts >= 1 && in.ExitSignal != 0 },
			want:  []string{downWanted, restarting, "last exit: signal SIGKILL at TIME", nextStart, noLog},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each in a directory and a supervise of its own
			dir := filepath.Join(root, strings.ReplaceAll(tc.name, " ", "-"))
			os.MkdirAll(dir, 0755)
			tc.setup(dir)
			testenv.StartSupervise(t, sv, dir, testenv.FastSchedule)
			if _, err := os.Stat(dir + "/log/run"); err == nil {
				testenv.StartSupervise(t, sv, dir+"/log")
				testenv.WaitFor(t, 15*time.Second, "the logger up", func() bool { return testenv.PidOf(dir+"/log") != 0 })
			}
			if tc.cmd != "" {
				testenv.Control(t, dir, tc.cmd)
			}
			testenv.WaitFor(t, 15*time.Second, tc.name, func() bool {
				in := svdir.ReadInfoOf(dir)
				return in != nil && tc.until(in) && (tc.cmd != "p" || readPaused(dir))
			})
			var want []string
			for _, w := range append(slices.Clip(tc.want), superviseRunning) {
				want = append(want, "  "+strings.ReplaceAll(w, "DIR", dir))
			}
			// A service that flaps may be caught between two states;
			// the output must settle on the expected one.
			var got []string
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				out := Long(dir, time.Now(), localtime.Load())
				plain := dir + ": " + Status(dir, time.Now()) + "\n"
				if !strings.HasPrefix(out, plain) {
					if time.Now().Before(deadline) {
						continue
					}
					t.Fatalf("svstat -l does not start with plain svstat's line %q:\n%s", plain, out)
				}
				got = strings.Split(strings.TrimSuffix(normalize(strings.TrimPrefix(out, plain)), "\n"), "\n")
				if strings.Join(got, "\n") == strings.Join(want, "\n") || time.Now().After(deadline) {
					break
				}
			}
			for i := 0; i < max(len(got), len(want)); i++ {
				g, w := "", ""
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("line %d:\n got %q\nwant %q", i+2, g, w)
				}
			}
		})
	}
}

func readPaused(dir string) bool {
	r, err := svdir.ReadStatusOf(dir)
	return err == nil && r.Paused
}

// TestLongNoSupervise: a directory without a running supervise gets plain
// svstat's line and says so.
func TestLongNoSupervise(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/supervise", 0700)
	os.WriteFile(dir+"/supervise/ok", nil, 0600)
	got := Long(dir, time.Now(), localtime.Load())
	want := dir + ": unable to open supervise/ok: not a FIFO\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	missing := filepath.Join(dir, "missing")
	if got, want := Long(missing, time.Now(), localtime.Load()), missing+": unable to chdir: file does not exist\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
