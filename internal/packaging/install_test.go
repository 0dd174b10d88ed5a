package packaging

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// checkInstalled checks that every program is in bin as an executable
// regular file and every man page is in man with the version written in.
func checkInstalled(t *testing.T, bin, man string) {
	t.Helper()
	v := version(t)
	for _, p := range Programs {
		fi, err := os.Stat(filepath.Join(bin, p))
		if err != nil {
			t.Errorf("program %s not installed: %v", p, err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want a regular file with mode 0755", p, fi.Mode())
		}
		b, err := os.ReadFile(filepath.Join(man, p+".8"))
		if err != nil {
			t.Errorf("man page %s.8 not installed: %v", p, err)
			continue
		}
		if !strings.Contains(string(b), "svkit "+v) || strings.Contains(string(b), "@VERSION@") {
			t.Errorf("installed %s.8 does not carry the version %q", p, v)
		}
	}
}

// noTempFiles fails if an install left a temporary file behind.
func noTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), ".svkit-new.") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// svstatPid returns the pid svstat reports for dir, or 0 when it is not up.
func svstatPid(t *testing.T, bin, dir string) string {
	out, _ := run(t, bin, dir, "svstat", dir)
	m := regexp.MustCompile(`: up \(pid (\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestInstallRootRunsAndUpgrades installs into a staging root, runs the
// installed programs on a scan directory, then upgrades them underneath the
// running tree: the binaries are replaced (new inodes, no ETXTBSY), the
// service keeps running and supervise still obeys svc.
func TestInstallRootRunsAndUpgrades(t *testing.T) {
	root := t.TempDir()
	install(t, "install", "--root", root, "--bin", testenv.Bin(t), "--service-dir", "/service")
	bin := filepath.Join(root, "usr/local/bin")
	checkInstalled(t, bin, filepath.Join(root, "usr/local/share/man/man8"))
	noTempFiles(t, root)
	scan := filepath.Join(root, "service")
	if fi, err := os.Stat(scan); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("--service-dir /service: %v %v", fi, err)
	}

	svcdir := filepath.Join(scan, "tick")
	writeService(t, svcdir)
	cmd := exec.Command(filepath.Join(bin, "svscan"), scan)
	cmd.Dir = scan
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	p := testenv.Start(t, cmd)
	t.Cleanup(func() { stopTree(t, bin, root, scan, p.Pid()) })

	testenv.WaitFor(t, 20*time.Second, "tick and its logger up", func() bool {
		return svstatPid(t, bin, svcdir) != "" && svstatPid(t, bin, filepath.Join(svcdir, "log")) != ""
	})
	current := filepath.Join(svcdir, "log", "main", "current")
	testenv.WaitFor(t, 20*time.Second, "a timestamped line in log/main/current", func() bool {
		b, _ := os.ReadFile(current)
		return regexp.MustCompile(`(?m)^@4000[0-9a-f]{20} started \d+$`).Match(b)
	})
	log, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	out, code := runStdin(t, bin, "tai64nlocal", string(log))
	if code != 0 || !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} started \d+$`).MatchString(out) {
		t.Fatalf("installed tai64nlocal: exit %d, output %q", code, out)
	}
	if out, code := run(t, bin, scan, "svok", svcdir); code != 0 {
		t.Fatalf("installed svok: exit %d %s", code, out)
	}

	// Upgrade underneath the running tree.
	pid := svstatPid(t, bin, svcdir)
	before := testenv.Inode(t, filepath.Join(bin, "supervise"))
	outu := install(t, "upgrade", "--root", root, "--bin", testenv.Bin(t))
	if testenv.Inode(t, filepath.Join(bin, "supervise")) == before {
		t.Errorf("package/upgrade did not replace supervise with a new file:\n%s", outu)
	}
	checkInstalled(t, bin, filepath.Join(root, "usr/local/share/man/man8"))
	noTempFiles(t, root)
	if got := svstatPid(t, bin, svcdir); got != pid {
		t.Fatalf("the service was disturbed by the upgrade: pid %s before, %q after", pid, got)
	}
	if out, code := run(t, bin, scan, "svc", "-t", svcdir); code != 0 {
		t.Fatalf("svc -t: exit %d %s", code, out)
	}
	testenv.WaitFor(t, 20*time.Second, "supervise to restart tick after the upgrade", func() bool {
		got := svstatPid(t, bin, svcdir)
		return got != "" && got != pid
	})
}

func runStdin(t *testing.T, bin, name, stdin string) (string, int) {
	t.Helper()
	out, errs, code := testenv.Run(t, "/", stdin, filepath.Join(bin, name))
	return out + errs, code
}

// TestUpgradeNeedsAnInstallation: upgrading where nothing is installed is
// an error, not a fresh install.
func TestUpgradeNeedsAnInstallation(t *testing.T) {
	for _, layout := range []string{"prefix", "djb"} {
		root := t.TempDir()
		out, errs, code := script(t, time.Minute, nil, "package/upgrade", "--root", root, "--layout", layout, "--bin", testenv.Bin(t))
		if code != 111 || !strings.Contains(errs, "use package/install") {
			t.Errorf("upgrade --layout %s on an empty root: exit %d, want 111\n%s%s", layout, code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/local/bin/svc")); err == nil {
			t.Errorf("upgrade --layout %s installed into an empty root", layout)
		}
	}
}

// fakeCheckout copies the package/ scripts into a directory that looks like
// a checkout at another version, with cmd/ directories for the program
// list, so that an upgrade to a new version can be tested.
func fakeCheckout(t *testing.T, v string) string {
	t.Helper()
	top := t.TempDir()
	src := filepath.Join(testenv.Root(), "package")
	testenv.MustRun(t, "cp", "-R", src, filepath.Join(top, "package"))
	if err := os.WriteFile(filepath.Join(top, "package", "version"), []byte(v+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range Programs {
		d := filepath.Join(top, "cmd", p)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "main.go"), []byte("package main\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return top
}

// TestInstallDJBLayout checks daemontools' layout in a staging root: the
// versioned package directory, its symlink, /command and /usr/local/bin
// links, and that an upgrade to a new version switches /command while the
// old version stays on disk.
func TestInstallDJBLayout(t *testing.T) {
	root := t.TempDir()
	v := version(t)
	install(t, "install", "--layout", "djb", "--root", root, "--bin", testenv.Bin(t))
	home := filepath.Join(root, "package/admin/svkit-"+v)
	checkInstalled(t, filepath.Join(home, "command"), filepath.Join(home, "man/man8"))
	noTempFiles(t, root)
	if got, err := os.Readlink(filepath.Join(root, "package/admin/svkit")); err != nil || got != "svkit-"+v {
		t.Fatalf("/package/admin/svkit -> %q (%v), want svkit-%s", got, err, v)
	}
	for _, p := range Programs {
		if got, err := os.Readlink(filepath.Join(root, "command", p)); err != nil || got != "/package/admin/svkit/command/"+p {
			t.Errorf("/command/%s -> %q (%v)", p, got, err)
		}
		if got, err := os.Readlink(filepath.Join(root, "usr/local/bin", p)); err != nil || got != "/command/"+p {
			t.Errorf("/usr/local/bin/%s -> %q (%v)", p, got, err)
		}
		res, links, err := ResolveIn(root, "/usr/local/bin/"+p)
		if err != nil || res != filepath.Join(home, "command", p) || links != 3 {
			t.Errorf("/usr/local/bin/%s resolves to %q via %d links (%v), want %s", p, res, links, err, filepath.Join(home, "command", p))
		}
		res, _, err = ResolveIn(root, "/usr/local/share/man/man8/"+p+".8")
		if err != nil || res != filepath.Join(home, "man/man8", p+".8") {
			t.Errorf("man page %s.8 resolves to %q (%v)", p, res, err)
		}
	}
	// The programs run from where /command leads: svok on a directory
	// without supervise says "not running" (100).
	cmdSvok, _, err := ResolveIn(root, "/command/svok")
	if err != nil {
		t.Fatal(err)
	}
	if _, code := run(t, filepath.Dir(cmdSvok), t.TempDir(), "svok", "."); code != 100 {
		t.Errorf("/command/svok on a directory without supervise: exit %d, want 100", code)
	}

	// Upgrade to another version from another checkout.
	top := fakeCheckout(t, "99.0.0")
	cmd := exec.Command(filepath.Join(top, "package/upgrade"), "--layout", "djb", "--root", root, "--bin", testenv.Bin(t))
	cmd.Env = baseEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("upgrade to 99.0.0: %v\n%s", err, out)
	}
	if got, _ := os.Readlink(filepath.Join(root, "package/admin/svkit")); got != "svkit-99.0.0" {
		t.Fatalf("after the upgrade /package/admin/svkit -> %q, want svkit-99.0.0", got)
	}
	if _, err := os.Stat(filepath.Join(home, "command/svc")); err != nil {
		t.Errorf("the old version's programs are gone after the upgrade: %v", err)
	}
	res, _, err := ResolveIn(root, "/command/svc")
	if err != nil || res != filepath.Join(root, "package/admin/svkit-99.0.0/command/svc") {
		t.Errorf("/command/svc now resolves to %q (%v)", res, err)
	}
	b, _ := os.ReadFile(filepath.Join(root, "package/admin/svkit-99.0.0/man/man8/svc.8"))
	if !strings.Contains(string(b), "svkit 99.0.0") {
		t.Errorf("the new version's svc.8 does not carry 99.0.0")
	}
	noTempFiles(t, root)
}

// TestUsageErrors: every script rejects bad arguments with a message and
// exit 100, and prints its usage with --help.
func TestUsageErrors(t *testing.T) {
	bad := [][]string{
		{"package/install", "--bogus"},
		{"package/install", "--layout", "weird"},
		{"package/install", "--boot", "upstart"},
		{"package/install", "--prefix", "relative/dir"},
		{"package/install", "--service-dir", "service"},
		{"package/install", "--root"},
		{"package/upgrade", "--boot", "systemd"},
		{"package/upgrade", "--service-dir", "/service"},
		{"package/compile", "--bogus"},
		{"scripts/demo", "--bogus"},
	}
	for _, c := range bad {
		out, errs, code := script(t, time.Minute, nil, c[0], c[1:]...)
		if code != 100 || !strings.Contains(errs, "usage:") || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 100 and a usage message on stderr", c, code, out, errs)
		}
	}
	for _, s := range []string{"package/install", "package/upgrade", "package/compile", "scripts/demo"} {
		out, errs, code := script(t, time.Minute, nil, s, "--help")
		if code != 0 || !strings.HasPrefix(out, "usage: ") || errs != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", s, code, out, errs)
		}
	}
}

// TestBootSystemd installs and enables the unit in a staging root, for both
// layouts, and has systemd-analyze verify it.
func TestBootSystemd(t *testing.T) {
	for _, layout := range []string{"prefix", "djb"} {
		t.Run(layout, func(t *testing.T) {
			root := t.TempDir()
			extra := []string{}
			if layout == "djb" {
				extra = []string{"--service-dir", "/etc/service"}
			}
			install(t, "install", append([]string{"--root", root, "--layout", layout, "--bin", testenv.Bin(t), "--boot", "systemd"}, extra...)...)
			unit := filepath.Join(root, "etc/systemd/system/svscan.service")
			b, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			want := "/usr/local/bin/svscanboot"
			if layout == "djb" {
				want = "/command/svscanboot"
			}
			m := regexp.MustCompile(`(?m)^ExecStart=(\S+)`).FindStringSubmatch(string(b))
			if m == nil || m[1] != want {
				t.Fatalf("unit's ExecStart is %q, want %s:\n%s", m, want, b)
			}
			line := regexp.MustCompile(`(?m)^ExecStart=.*$`).FindString(string(b))
			if layout == "djb" && !strings.HasSuffix(line, " /etc/service") {
				t.Errorf("--service-dir /etc/service is not svscanboot's argument: %s", line)
			}
			if layout == "prefix" && strings.Contains(line, "/etc/service") {
				t.Errorf("svscanboot got a directory argument without --service-dir: %s", line)
			}
			wanted := regexp.MustCompile(`(?m)^WantedBy=(.+)$`).FindStringSubmatch(string(b))
			if wanted == nil {
				t.Fatalf("the unit has no WantedBy=, so it cannot be enabled:\n%s", b)
			}
			for _, target := range strings.Fields(wanted[1]) {
				l := filepath.Join(root, "etc/systemd/system", target+".wants", "svscan.service")
				if got, err := os.Readlink(l); err != nil || got != "/etc/systemd/system/svscan.service" {
					t.Errorf("not enabled for %s: %s -> %q (%v)", target, l, got, err)
				}
			}
			verifyUnit(t, root, string(b), m[1])
		})
	}
}

// verifyUnit runs systemd-analyze verify on the unit with its ExecStart
// pointed at the installed svscanboot in the staging root (verify checks
// that the program exists and is executable).
func verifyUnit(t *testing.T, root, unit, exec0 string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	testenv.Require(t, err == nil, "systemd-analyze is not installed (apt-get install systemd); the unit was not verified")
	real, _, err := ResolveIn(root, exec0)
	if err != nil {
		t.Fatalf("ExecStart=%s does not exist in the staging root: %v", exec0, err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "svscan.service")
	if err := os.WriteFile(f, []byte(strings.Replace(unit, "ExecStart="+exec0, "ExecStart="+real, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "verify", "--man=no", f)
	cmd.Env = append(baseEnv(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// bootArgs returns the arguments package/boot/inittab gives svscanboot
// (such as " -o"), checking that the file holds the classic line.
func bootArgs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "package/boot/inittab"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SV:123456:respawn:/\S*/svscanboot((?: -\S+)*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("package/boot/inittab has no SV:123456:respawn:.../svscanboot line:\n%s", b)
	}
	return m[1]
}

// TestBootInittab adds the SV line once, keeps the rest of inittab, and
// refuses to add a second, different SV entry.
func TestBootInittab(t *testing.T) {
	root := t.TempDir()
	tab := filepath.Join(root, "etc/inittab")
	orig := "id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n"
	if err := os.MkdirAll(filepath.Dir(tab), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tab, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		install(t, "install", "--root", root, "--bin", testenv.Bin(t), "--boot", "inittab")
	}
	b, _ := os.ReadFile(tab)
	args := bootArgs(t)
	want := orig + "SV:123456:respawn:/usr/local/bin/svscanboot" + args + "\n"
	if string(b) != want {
		t.Fatalf("inittab after two installs:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/svscanboot")); err != nil {
		t.Fatalf("the inittab line names a program that was not installed: %v", err)
	}

	// The djb layout's line names /command/svscanboot, as daemontools' did.
	root2 := t.TempDir()
	install(t, "install", "--root", root2, "--layout", "djb", "--bin", testenv.Bin(t), "--boot", "inittab")
	b, _ = os.ReadFile(filepath.Join(root2, "etc/inittab"))
	if string(b) != "SV:123456:respawn:/command/svscanboot"+args+"\n" {
		t.Fatalf("djb inittab: %q", b)
	}
	// --service-dir other than /service becomes svscanboot's argument.
	root3 := t.TempDir()
	install(t, "install", "--root", root3, "--bin", testenv.Bin(t), "--service-dir", "/etc/service", "--boot", "inittab")
	b3, _ := os.ReadFile(filepath.Join(root3, "etc/inittab"))
	if string(b3) != "SV:123456:respawn:/usr/local/bin/svscanboot"+args+" /etc/service\n" {
		t.Fatalf("inittab with --service-dir /etc/service: %q", b3)
	}
	if fi, err := os.Stat(filepath.Join(root3, "etc/service")); err != nil || !fi.IsDir() {
		t.Fatalf("--service-dir /etc/service was not created: %v", err)
	}
	// A different SV entry is left alone and reported.
	out, errs, code := script(t, time.Minute, nil, "package/install", "--root", root2, "--bin", testenv.Bin(t), "--boot", "inittab")
	if code != 111 || !strings.Contains(errs, "different SV: entry") {
		t.Fatalf("prefix install over a djb SV line: exit %d\n%s%s", code, out, errs)
	}
	if b2, _ := os.ReadFile(filepath.Join(root2, "etc/inittab")); string(b2) != string(b) {
		t.Fatalf("inittab was changed although the install failed: %q", b2)
	}
}

// TestGoInstall: `go install svkit/cmd/...` from a checkout builds every
// program.
func TestGoInstall(t *testing.T) {
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "svkit/cmd/...")
	cmd.Dir = testenv.Root()
	cmd.Env = append(baseEnv(), "GOBIN="+gobin, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install svkit/cmd/...: %v\n%s", err, out)
	}
	for _, p := range Programs {
		if _, err := os.Stat(filepath.Join(gobin, p)); err != nil {
			t.Errorf("go install did not produce %s: %v", p, err)
		}
	}
}

// checkStatic fails unless the ELF file has no interpreter and no shared
// library dependencies.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (program header %v)", path, p.Type)
			return
		}
	}
}

// TestNoVersionFlag: like daemontools', no svkit program takes --version;
// none prints the version when given it. (svscanboot is left out: it takes
// no arguments and would start the system's supervision tree.)
func TestNoVersionFlag(t *testing.T) {
	v := version(t)
	bin := testenv.Bin(t)
	for _, p := range Programs {
		if p == "svscanboot" {
			continue
		}
		ctx := t.TempDir()
		out, errs, code := runTimeout(t, bin, ctx, p, "--version")
		all := out + errs
		if strings.Contains(all, v) || regexp.MustCompile(`(?i)svkit\s+v?\d`).MatchString(all) {
			t.Errorf("%s --version printed a version (exit %d): %q", p, code, all)
		}
	}
}

func runTimeout(t *testing.T, bin, dir, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	outf, errf := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = outf, errf
	p := testenv.Start(t, cmd)
	code := -1
	deadline := time.Now().Add(5 * time.Second)
	for !p.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Exited() {
		code = p.Wait(t, time.Second)
	} else {
		p.KillAndWait(t, syscall.SIGKILL)
	}
	return readBack(t, outf), readBack(t, errf), code
}
