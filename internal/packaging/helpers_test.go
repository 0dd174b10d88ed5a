package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// version is the content of package/version.
func version(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "package", "version"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" || strings.ContainsAny(v, " \t\n/") {
		t.Fatalf("package/version holds %q", b)
	}
	return v
}

// script runs one of the repository's scripts (path relative to the
// repository) with extra environment, and returns stdout, stderr and the
// exit code. Output goes to files, not pipes, so that a daemon the script
// leaves behind cannot hold the test up.
func script(t testing.TB, timeout time.Duration, env []string, path string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !filepath.IsAbs(path) {
		path = filepath.Join(testenv.Root(), path)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = testenv.Root()
	cmd.Env = append(baseEnv(), env...)
	outf, errf := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = outf, errf
	code := testenv.ExitCode(t, cmd, cmd.Run())
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after %v", path, args, timeout)
	}
	return readBack(t, outf), readBack(t, errf), code
}

// baseEnv is the environment scripts run with: the test's own, with Go's
// directory on PATH and no DESTDIR, CI or TMPDIR surprises from outside.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DESTDIR=") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/bin:/bin"
	}
	return append(env, "PATH="+path+":/usr/local/go/bin")
}

func tempFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBack(t testing.TB, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// install runs package/install (or upgrade) and fails the test unless it
// exits 0.
func install(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, errs, code := script(t, 5*time.Minute, nil, "package/"+name, args...)
	if code != 0 {
		t.Fatalf("package/%s %v: exit %d\nstdout: %s\nstderr: %s", name, args, code, out, errs)
	}
	return out + errs
}

// run runs a program with PATH set to bin (plus the system directories)
// and returns its combined output and exit code.
func run(t testing.TB, bin, dir, name string, args ...string) (string, int) {
	t.Helper()
	return cmdOut(t, 20*time.Second, dir, []string{"PATH=" + bin + ":/usr/bin:/bin"}, filepath.Join(bin, name), args...)
}

// stopTree stops a supervision tree the way an operator does: svscan (by
// pid) first, then svc -dx on the services, then on their loggers. It
// fails the test if anything is still running under root afterwards and
// has to be killed.
func stopTree(t testing.TB, bin, root, scandir string, svscanPid int) {
	t.Helper()
	if svscanPid > 0 {
		syscall.Kill(svscanPid, syscall.SIGTERM)
	}
	for _, pattern := range []string{"*", "*/log"} {
		dirs, _ := filepath.Glob(filepath.Join(scandir, pattern))
		if len(dirs) == 0 {
			continue
		}
		run(t, bin, scandir, "svc", append([]string{"-dx"}, dirs...)...)
		deadline := time.Now().Add(10 * time.Second)
		for _, d := range dirs {
			for time.Now().Before(deadline) {
				if _, code := run(t, bin, scandir, "svok", d); code != 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(testenv.ProcsUnder(root)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := testenv.KillUnder(t, root); n > 0 {
		t.Errorf("%d processes were still running under %s after svc -dx; killed them", n, root)
	}
}

// writeService makes a service directory with a run script that prints a
// line and sleeps, and a log/run that runs multilog with timestamps.
func writeService(t testing.TB, dir string) {
	t.Helper()
	testenv.WriteScript(t, filepath.Join(dir, "run"), "exec 2>&1\necho \"started $$\"\nexec sleep 100000\n")
	testenv.WriteScript(t, filepath.Join(dir, "log", "run"), "exec multilog t ./main\n")
}
