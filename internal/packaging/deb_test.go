package packaging

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// The tests of package/deb: the two packages are built from the checkout,
// checked with lintian, listed and unpacked with dpkg-deb, then installed
// over Debian's own daemontools and daemontools-run, upgraded, removed and
// purged by dpkg --root in a throwaway root whose /bin/sh is dash (with its
// libraries) and whose other tools are busybox's. dpkg runs the maintainer
// scripts chrooted there; nothing of the machine's own packages is touched.

// svLine is the inittab entry svkit-run adds.
const svLine = "SV:123456:respawn:/usr/bin/svscanboot -o /etc/service"

// debs is one build of the two packages.
type debs struct {
	version, svkit, run string
}

// buildDebs runs package/deb with args and returns the two files it wrote
// into out.
func buildDebs(t *testing.T, version, arch, out string, args ...string) debs {
	t.Helper()
	args = append(args, "--out", out)
	stdout, stderr, code := script(t, 10*time.Minute, nil, "package/deb", args...)
	if code != 0 {
		t.Fatalf("package/deb %v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	d := debs{
		version: version,
		svkit:   filepath.Join(out, "svkit_"+version+"_"+arch+".deb"),
		run:     filepath.Join(out, "svkit-run_"+version+"_all.deb"),
	}
	for _, f := range []string{d.svkit, d.run} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("package/deb %v did not write %s: %v\nstdout: %s", args, f, err, stdout)
		}
		if !strings.Contains(stdout, "wrote "+f) {
			t.Errorf("package/deb did not say it wrote %s: %s", f, stdout)
		}
	}
	return d
}

// cmdOut runs a host command and returns its combined output and exit code.
func cmdOut(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after %v\n%s", name, args, timeout, b.String())
	}
	return b.String(), testenv.ExitCode(t, cmd, err)
}

// mustOut is cmdOut failing the test unless the command exits 0.
func mustOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, code := cmdOut(t, 5*time.Minute, "", nil, name, args...)
	if code != 0 {
		t.Fatalf("%s %v: exit %d\n%s", name, args, code, out)
	}
	return out
}

// requireTools fails (in CI) or skips unless every tool is in PATH.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		_, err := exec.LookPath(tool)
		testenv.Require(t, err == nil, tool+" not found (scripts/deps installs it)")
	}
}

// TestDebPackages builds svkit and svkit-run, checks what they hold and
// what lintian says of them, then installs them over Debian's daemontools
// and daemontools-run in a throwaway root, upgrades them to a rebuilt
// version, removes and purges them, and checks after each step that
// /etc/service and every service directory are as they were.
func TestDebPackages(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "dpkg", "dpkg-deb", "dpkg-query", "lintian", "busybox", "dash", "ldd", "chroot", "apt-get", "mknod")
	v := version(t)
	arch := strings.TrimSpace(mustOut(t, "dpkg", "--print-architecture"))
	tmp := t.TempDir()

	// Debian's packages, to install svkit over. apt-get download fetches
	// them into the test's directory; nothing is installed on the machine.
	orig := filepath.Join(tmp, "debian")
	if err := os.Mkdir(orig, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := cmdOut(t, 3*time.Minute, orig, nil, "apt-get", "download", "daemontools", "daemontools-run"); code != 0 {
		testenv.Require(t, false, "apt-get download daemontools daemontools-run failed: "+out)
	}
	dt, _ := filepath.Glob(filepath.Join(orig, "daemontools_*.deb"))
	dtr, _ := filepath.Glob(filepath.Join(orig, "daemontools-run_*.deb"))
	if len(dt) != 1 || len(dtr) != 1 {
		t.Fatalf("apt-get download left %v %v", dt, dtr)
	}

	// The release build (package/compile, xz), and a rebuild of the same
	// programs at a higher version to upgrade to.
	d1 := buildDebs(t, v, arch, filepath.Join(tmp, "dist1"))
	x1 := filepath.Join(tmp, "x1")
	mustOut(t, "dpkg-deb", "-x", d1.svkit, x1)
	mustOut(t, "dpkg-deb", "-x", d1.run, x1)
	v2 := v + "+rebuild1"
	d2 := buildDebs(t, v2, arch, filepath.Join(tmp, "dist2"), "--fast", "--version", v2, "--bin", filepath.Join(x1, "usr/bin"))
	if out, code := cmdOut(t, time.Minute, "", nil, "dpkg", "--compare-versions", v2, "gt", v); code != 0 {
		t.Fatalf("%s is not newer than %s: %s", v2, v, out)
	}
	// Two builds of one commit are the same, byte for byte.
	d3 := buildDebs(t, v2, arch, filepath.Join(tmp, "dist3"), "--fast", "--version", v2, "--bin", filepath.Join(x1, "usr/bin"))
	for _, pair := range [][2]string{{d2.svkit, d3.svkit}, {d2.run, d3.run}} {
		a, err1 := os.ReadFile(pair[0])
		b, err2 := os.ReadFile(pair[1])
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("two builds of %s differ (%v, %v)", filepath.Base(pair[0]), err1, err2)
		}
	}

	t.Run("Control", func(t *testing.T) { checkControl(t, d1, arch, dt[0]) })
	t.Run("Contents", func(t *testing.T) { checkContents(t, d1, x1) })
	t.Run("Lintian", func(t *testing.T) { checkLintian(t, d1) })
	t.Run("Lifecycle", func(t *testing.T) { checkLifecycle(t, dt[0], dtr[0], d1, d2, x1) })
	t.Run("ForeignSVEntry", func(t *testing.T) { checkForeignSV(t, d1) })
}

// checkForeignSV installs the packages into a fresh root whose inittab
// already starts svscanboot (package/install --boot inittab's line): the
// postinst adds no second entry and says why, and removal keeps the line.
func checkForeignSV(t *testing.T, d debs) {
	root := filepath.Join(t.TempDir(), "root")
	makeRoot(t, root)
	tab := "id:2:initdefault:\nSV:123456:respawn:/usr/local/bin/svscanboot -o\n"
	if err := os.WriteFile(filepath.Join(root, "etc/inittab"), []byte(tab), 0o644); err != nil {
		t.Fatal(err)
	}
	out := dpkgIn(t, root, "-i", d.svkit, d.run)
	if !strings.Contains(out, "already has an SV entry") {
		t.Errorf("install did not say it left the SV entry alone:\n%s", out)
	}
	wantStates(t, root, "install", map[string]string{
		"svkit": "installed " + d.version, "svkit-run": "installed " + d.version,
	})
	for _, dir := range []string{"etc/service", "var/lib/supervise"} {
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("install: /%s is not a directory: %v", dir, err)
		}
	}
	for _, step := range []string{"install", "remove"} {
		if step == "remove" {
			dpkgIn(t, root, "-r", "svkit-run", "svkit")
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); string(b) != tab {
			t.Errorf("%s: inittab is\n%s\nwant\n%s", step, b, tab)
		}
	}
}

// TestDebUsage: package/deb refuses what it does not understand, with
// daemontools' exit codes, before building anything.
func TestDebUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--bogus"}, 100, "package/deb: unknown argument: --bogus"},
		{[]string{"--out"}, 100, "package/deb: --out needs an argument"},
		{[]string{"--version", "x1", "--out", t.TempDir()}, 111, "package/deb: fatal: bad version: x1"},
		{[]string{"--version", "1_2", "--out", t.TempDir()}, 111, "package/deb: fatal: bad version: 1_2"},
	} {
		_, stderr, code := script(t, time.Minute, nil, "package/deb", c.args...)
		if code != c.code || !strings.HasPrefix(stderr, c.msg) {
			t.Errorf("package/deb %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	stdout, _, code := script(t, time.Minute, nil, "package/deb", "--help")
	if code != 0 || !strings.HasPrefix(stdout, "usage: package/deb") {
		t.Errorf("package/deb --help: exit %d, %q", code, stdout)
	}
}

// checkControl: names, versions and the relations that make the packages
// replace daemontools and daemontools-run.
func checkControl(t *testing.T, d debs, arch, debianDeb string) {
	field := func(deb, name string) string {
		return strings.TrimSpace(mustOut(t, "dpkg-deb", "-f", deb, name))
	}
	provides := "1:0.76+svkit" + d.version
	want := map[string]map[string]string{
		d.svkit: {
			"Package": "svkit", "Version": d.version, "Architecture": arch,
			"Provides":  "daemontools (= " + provides + ")",
			"Conflicts": "daemontools", "Replaces": "daemontools",
		},
		d.run: {
			"Package": "svkit-run", "Version": d.version, "Architecture": "all",
			"Depends":   "svkit (>= " + d.version + ")",
			"Provides":  "daemontools-run (= " + provides + ")",
			"Conflicts": "daemontools-run, runit", "Replaces": "daemontools-run",
		},
	}
	for deb, fields := range want {
		for name, value := range fields {
			if got := field(deb, name); got != value {
				t.Errorf("%s: %s: %q, want %q", filepath.Base(deb), name, got, value)
			}
		}
	}
	// daemontools-run depends on daemontools (>> 1:0.76); the provided
	// version must satisfy it and be above every Debian revision.
	debianVersion := field(debianDeb, "Version")
	for _, c := range [][3]string{{provides, "gt", "1:0.76"}, {provides, "gt", debianVersion}} {
		if out, code := cmdOut(t, time.Minute, "", nil, "dpkg", "--compare-versions", c[0], c[1], c[2]); code != 0 {
			t.Errorf("dpkg --compare-versions %s %s %s: false %s", c[0], c[1], c[2], out)
		}
	}
	if got := field(debianDeb, "Package"); got != "daemontools" {
		t.Errorf("%s is %q, not daemontools", debianDeb, got)
	}
}

// debEntry is one line of dpkg-deb -c.
type debEntry struct{ mode, owner string }

func listDeb(t *testing.T, deb string) map[string]debEntry {
	t.Helper()
	m := map[string]debEntry{}
	for _, line := range strings.Split(strings.TrimSpace(mustOut(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("%s: odd dpkg-deb -c line %q", deb, line)
		}
		m[strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")] = debEntry{f[0], f[1]}
	}
	return m
}

// checkContents: dpkg-deb -c lists what Debian's packages install, in the
// same places, owned by root; dpkg-deb -x gives static programs, man pages
// with the version, the unit on /etc/service and maintainer scripts that
// dash accepts.
func checkContents(t *testing.T, d debs, x string) {
	want := map[string]map[string]string{d.svkit: {}, d.run: {}}
	for _, p := range Programs {
		want[d.svkit]["/usr/bin/"+p] = "-rwxr-xr-x"
		want[d.svkit]["/usr/share/man/man8/"+p+".8.gz"] = "-rw-r--r--"
	}
	for _, f := range []string{"copyright", "changelog.gz", "README.Debian"} {
		want[d.svkit]["/usr/share/doc/svkit/"+f] = "-rw-r--r--"
		want[d.run]["/usr/share/doc/svkit-run/"+f] = "-rw-r--r--"
	}
	want[d.svkit]["/usr/share/lintian/overrides/svkit"] = "-rw-r--r--"
	want[d.run]["/usr/share/lintian/overrides/svkit-run"] = "-rw-r--r--"
	want[d.run]["/etc/service"] = "drwxr-xr-x"
	want[d.run]["/var/lib/supervise"] = "drwxr-xr-x"
	want[d.run]["/lib/systemd/system/svscan.service"] = "-rw-r--r--"
	want[d.run]["/usr/sbin/update-service"] = "-rwxr-xr-x"
	want[d.run]["/usr/share/man/man8/update-service.8.gz"] = "-rw-r--r--"
	for deb, files := range want {
		got := listDeb(t, deb)
		for path, e := range got {
			if e.owner != "root/root" {
				t.Errorf("%s: %s owned by %s", filepath.Base(deb), path, e.owner)
			}
			if files[path] == "" && !strings.HasPrefix(e.mode, "d") {
				t.Errorf("%s: unexpected file %s", filepath.Base(deb), path)
			}
		}
		for path, mode := range files {
			if e, ok := got[path]; !ok {
				t.Errorf("%s: no %s", filepath.Base(deb), path)
			} else if e.mode != mode {
				t.Errorf("%s: %s has mode %s, want %s", filepath.Base(deb), path, e.mode, mode)
			}
		}
	}

	for _, p := range Programs {
		checkStatic(t, filepath.Join(x, "usr/bin", p))
		page := gunzip(t, filepath.Join(x, "usr/share/man/man8", p+".8.gz"))
		if !strings.Contains(page, `"svkit `+d.version+`"`) || strings.Contains(page, "@VERSION@") {
			t.Errorf("%s.8.gz does not carry the version %s", p, d.version)
		}
	}
	// The programs run: envdir on an empty directory runs its child.
	if out, code := cmdOut(t, 20*time.Second, "", nil, filepath.Join(x, "usr/bin/envdir"), t.TempDir(), "/bin/echo", "ran"); code != 0 || out != "ran\n" {
		t.Errorf("packaged envdir: exit %d, output %q; want 0 and \"ran\"", code, out)
	}
	page := gunzip(t, filepath.Join(x, "usr/share/man/man8/update-service.8.gz"))
	if !strings.Contains(page, `"svkit `+d.version+`"`) {
		t.Errorf("update-service.8.gz does not carry the version %s", d.version)
	}
	requireTools(t, "mandoc")
	man := filepath.Join(t.TempDir(), "update-service.8")
	if err := os.WriteFile(man, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := cmdOut(t, 20*time.Second, "", nil, "mandoc", "-T", "lint", "-W", "warning", man); code != 0 || out != "" {
		t.Errorf("mandoc -T lint update-service.8: exit %d\n%s", code, out)
	}
	changelog := gunzip(t, filepath.Join(x, "usr/share/doc/svkit/changelog.gz"))
	if !strings.HasPrefix(changelog, "svkit ("+d.version+") ") {
		t.Errorf("changelog does not start with the version %s:\n%s", d.version, changelog)
	}

	// The unit is package/boot's, with svscanboot in /usr/bin on
	// /etc/service, ordered stop included.
	src, err := os.ReadFile(filepath.Join(testenv.Root(), "package/boot/svscan.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(x, "lib/systemd/system/svscan.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ExecStart=/usr/bin/svscanboot -o -k 20 /etc/service$`).Match(unit) {
		t.Errorf("unit's ExecStart is not svscanboot -o -k 20 /etc/service:\n%s", unit)
	}
	if !regexp.MustCompile(`(?m)^KillMode=mixed$`).Match(unit) {
		t.Errorf("unit lost KillMode=mixed:\n%s", unit)
	}
	if n1, n2 := strings.Count(string(src), "\n"), strings.Count(string(unit), "\n"); n1 != n2 {
		t.Errorf("unit has %d lines, package/boot/svscan.service %d", n2, n1)
	}

	ctl := filepath.Join(t.TempDir(), "DEBIAN")
	mustOut(t, "dpkg-deb", "-e", d.run, ctl)
	postinst, err := os.ReadFile(filepath.Join(ctl, "postinst"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(postinst), "svline='"+svLine+"'") {
		t.Errorf("postinst does not add %q", svLine)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(ctl, s)
		if out, code := cmdOut(t, 20*time.Second, "", nil, "dash", "-n", path); code != 0 {
			t.Errorf("%s: dash -n: %s", s, out)
		}
		if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) || strings.Contains(string(b), "@") {
			t.Errorf("%s: not a #!/bin/sh script with every placeholder filled in", s)
		}
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	z, err := gzip.NewReader(testenv.Open(t, path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

// checkLintian: lintian, with info and pedantic tags shown, reports no
// error and no warning; the overrides the packages ship are the reasons
// for what it would say otherwise.
func checkLintian(t *testing.T, d debs) {
	out, code := cmdOut(t, 10*time.Minute, "", nil, "lintian", "--pedantic", "-I", "--fail-on", "error,warning", d.svkit, d.run)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		} else if regexp.MustCompile(`^[IPX]: `).MatchString(line) {
			t.Logf("lintian: %s", line)
		}
	}
	if code != 0 {
		t.Errorf("lintian exit %d:\n%s", code, out)
	}
}

// makeRoot builds a throwaway root for dpkg --root: dash as /bin/sh with
// the libraries it needs, busybox for the other tools (not for svc, svok
// and the other daemontools names: those are the packages' to provide),
// /dev/null, an /etc/inittab and an empty dpkg database.
func makeRoot(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "dev", "root",
		"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	dash, err := exec.LookPath("dash")
	if err != nil {
		t.Fatal(err)
	}
	copyWithLibs(t, root, dash, "/bin/sh")
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	copyWithLibs(t, root, busybox, "/bin/busybox")
	skip := map[string]bool{"sh": true, "busybox": true, "svc": true, "svok": true, "sv": true,
		"chpst": true, "runsv": true, "runsvdir": true, "svlogd": true, "init": true, "dpkg": true, "dpkg-deb": true}
	for _, p := range Programs {
		skip[p] = true
	}
	for _, a := range strings.Fields(mustOut(t, busybox, "--list")) {
		if skip[a] || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, int(1<<8|3)); err != nil {
		t.Fatalf("mknod /dev/null in the root: %v", err)
	}
	files := map[string]string{
		"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":           "root:x:0:\n",
		"etc/inittab":         "id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n",
		"var/lib/dpkg/status": "", "var/lib/dpkg/available": "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyWithLibs copies the program at path to dest inside root, with the
// shared libraries ldd lists for it at the paths ldd gives.
func copyWithLibs(t *testing.T, root, path, dest string) {
	t.Helper()
	copyFile(t, path, filepath.Join(root, dest), 0o755)
	out, code := cmdOut(t, 20*time.Second, "", nil, "ldd", path)
	if code != 0 {
		return // static
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(t, real, filepath.Join(root, lib), 0o755)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// rootEnv is the environment dpkg and the chrooted commands get.
var rootEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/root"}

// dpkgIn runs dpkg --root=root with args and fails the test unless it
// exits 0.
func dpkgIn(t *testing.T, root string, args ...string) string {
	t.Helper()
	args = append([]string{"--root=" + root, "--force-unsafe-io"}, args...)
	out, code := cmdOut(t, 3*time.Minute, "", rootEnv, "dpkg", args...)
	if code != 0 {
		t.Fatalf("dpkg %v: exit %d\n%s", args, code, out)
	}
	return out
}

// inRoot runs a command chrooted into root.
func inRoot(t *testing.T, root string, args ...string) (string, int) {
	t.Helper()
	return cmdOut(t, time.Minute, "", rootEnv, "chroot", append([]string{root}, args...)...)
}

// states returns "package status version" of every package dpkg knows in
// root.
func states(t *testing.T, root string) map[string]string {
	t.Helper()
	out, code := cmdOut(t, time.Minute, "", rootEnv, "dpkg-query", "--root="+root, "-W", "-f=${Package}\t${db:Status-Status} ${Version}\n")
	if code != 0 && code != 1 {
		t.Fatalf("dpkg-query: exit %d\n%s", code, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if p, s, ok := strings.Cut(line, "\t"); ok {
			m[p] = s
		}
	}
	return m
}

func wantStates(t *testing.T, root, step string, want map[string]string) {
	t.Helper()
	got := states(t, root)
	for p, w := range want {
		g := got[p]
		if w == "" {
			if g != "" && !strings.HasPrefix(g, "not-installed") && !strings.HasPrefix(g, "config-files") {
				t.Errorf("%s: %s is %q, want it gone", step, p, g)
			}
		} else if g != w {
			t.Errorf("%s: %s is %q, want %q", step, p, g, w)
		}
	}
}

// snapshot describes every file under the service trees of root: type,
// mode, content or link target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, top := range []string{"etc/service", "etc/sv", "var/lib/supervise/demo"} {
		filepath.WalkDir(filepath.Join(root, top), func(p string, e fs.DirEntry, err error) error {
			rel := strings.TrimPrefix(p, root)
			if err != nil {
				m[rel] = "error: " + err.Error()
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				m[rel] = "error: " + err.Error()
				return nil
			}
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				m[rel] = "-> " + target
			case fi.IsDir():
				m[rel] = fmt.Sprintf("dir %v", fi.Mode())
			default:
				b, _ := os.ReadFile(p)
				m[rel] = fmt.Sprintf("%v %q", fi.Mode(), b)
			}
			return nil
		})
	}
	return m
}

func sameSnapshot(t *testing.T, step string, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			t.Errorf("%s: %s is %q, was %q", step, k, got[k], want[k])
		}
	}
}

func svLines(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/inittab"))
	if err != nil {
		t.Fatal(err)
	}
	var sv []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "SV:") {
			sv = append(sv, l)
		}
	}
	return sv
}

// checkLifecycle installs Debian's daemontools and daemontools-run into a
// throwaway root, adds services, then puts svkit over them, upgrades,
// removes and purges it.
func checkLifecycle(t *testing.T, dt, dtr string, d1, d2 debs, x1 string) {
	root := filepath.Join(t.TempDir(), "root")
	makeRoot(t, root)

	// Debian's packages (daemontools' libc is not in the root: its
	// programs never run there).
	out := dpkgIn(t, root, "--force-depends", "-i", dt, dtr)
	if sv := svLines(t, root); len(sv) != 1 || !strings.HasPrefix(sv[0], "SV:123456:respawn:/usr/bin/svscanboot") {
		t.Fatalf("daemontools-run did not add its SV entry: %q\n%s", sv, out)
	}
	// Services as daemontools-run users have them: one registered the
	// update-service way (supervise state in /var/lib/supervise), one
	// plain directory with supervise state left by supervise.
	for _, f := range []struct{ path, body string }{
		{"etc/sv/demo/run", "#!/bin/sh\nexec sleep 1000\n"},
		{"etc/sv/demo/log/run", "#!/bin/sh\nexec multilog t ./main\n"},
		{"etc/service/plain/run", "#!/bin/sh\nexec sleep 1000\n"},
		{"etc/service/plain/supervise/status", "@4000000065000000\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00u\x00"},
		{"etc/service/plain/down", ""},
		{"var/lib/supervise/demo/status", "@4000000065000000\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00u\x00"},
		{"var/lib/supervise/demo/lock", ""},
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f.path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f.path), []byte(f.body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"etc/sv/demo/supervise": "/var/lib/supervise/demo",
		"etc/service/demo":      "/etc/sv/demo",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	// Stand-ins for init-system-helpers, systemctl and telinit that log
	// their arguments: the maintainer scripts may record the unit's
	// enablement (deb-systemd-helper works on files), but must never start
	// or stop anything in a chroot.
	for _, name := range []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl", "telinit"} {
		testenv.WriteScript(t, filepath.Join(root, "sbin", name), "echo \"${0##*/} $*\" >>/tmp/calls.log\n")
	}
	before := snapshot(t, root)
	inittab, err := os.ReadFile(filepath.Join(root, "etc/inittab"))
	if err != nil {
		t.Fatal(err)
	}
	baseInittab := regexp.MustCompile(`(?s)#-- daemontools-run begin\n.*#-- daemontools-run end\n`).ReplaceAllString(string(inittab), "")

	// Install over Debian's packages.
	out = dpkgIn(t, root, "-i", d1.svkit, d1.run)
	t.Logf("install over daemontools:\n%s", out)
	wantStates(t, root, "install", map[string]string{
		"svkit": "installed " + d1.version, "svkit-run": "installed " + d1.version,
		"daemontools": "", "daemontools-run": "",
	})
	if sv := svLines(t, root); len(sv) != 1 || sv[0] != svLine {
		t.Errorf("install: inittab SV entries %q, want only %q", sv, svLine)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); strings.Contains(string(b), "daemontools-run") ||
		!strings.HasPrefix(string(b), baseInittab) {
		t.Errorf("install: inittab is\n%s", b)
	}
	for _, p := range append(Programs, "../sbin/update-service") {
		got, err1 := os.ReadFile(filepath.Join(root, "usr/bin", p))
		want, err2 := os.ReadFile(filepath.Join(x1, "usr/bin", p))
		if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Errorf("install: /usr/bin/%s is not svkit's (%v, %v)", p, err1, err2)
		}
	}
	sameSnapshot(t, "install", before, snapshot(t, root))
	calls := readCalls(t, root)
	for _, c := range []string{"deb-systemd-helper unmask svscan.service", "deb-systemd-helper --quiet was-enabled svscan.service",
		"deb-systemd-helper enable svscan.service"} {
		if !strings.Contains(calls, c+"\n") {
			t.Errorf("install: no %q; calls:\n%s", c, calls)
		}
	}
	// From now on the root looks like a system booted with systemd; the
	// scripts still see that they run in a chroot.
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}

	// The postinst again (dpkg --configure after a failure, or by hand):
	// nothing changes.
	tab1, _ := os.ReadFile(filepath.Join(root, "etc/inittab"))
	if out, code := inRoot(t, root, "/var/lib/dpkg/info/svkit-run.postinst", "configure", d1.version); code != 0 {
		t.Errorf("postinst configure again: exit %d\n%s", code, out)
	}
	if tab2, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); !bytes.Equal(tab1, tab2) {
		t.Errorf("postinst configure again changed inittab:\n%s\nto\n%s", tab1, tab2)
	}

	checkUpdateService(t, root)
	sameSnapshot(t, "update-service", before, snapshot(t, root))

	// Upgrade to the rebuilt version.
	dpkgIn(t, root, "-i", d2.svkit, d2.run)
	wantStates(t, root, "upgrade", map[string]string{
		"svkit": "installed " + d2.version, "svkit-run": "installed " + d2.version,
	})
	if tab2, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); !bytes.Equal(tab1, tab2) {
		t.Errorf("upgrade changed inittab:\n%s\nto\n%s", tab1, tab2)
	}
	sameSnapshot(t, "upgrade", before, snapshot(t, root))

	// Remove: the SV entry goes, the programs go, the services stay.
	dpkgIn(t, root, "-r", "svkit-run", "svkit")
	wantStates(t, root, "remove", map[string]string{"svkit": "", "svkit-run": ""})
	if b, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); string(b) != baseInittab {
		t.Errorf("remove: inittab is\n%s\nwant\n%s", b, baseInittab)
	}
	for _, p := range []string{"usr/bin/svc", "usr/sbin/update-service", "lib/systemd/system/svscan.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("remove: /%s is still there", p)
		}
	}
	sameSnapshot(t, "remove", before, snapshot(t, root))
	// The postrm again: nothing changes.
	copyFile(t, filepath.Join(root, "var/lib/dpkg/info/svkit-run.postrm"), filepath.Join(root, "tmp/postrm"), 0o755)
	if out, code := inRoot(t, root, "/tmp/postrm", "remove"); code != 0 {
		t.Errorf("postrm remove again: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/inittab")); string(b) != baseInittab {
		t.Errorf("postrm remove again: inittab is\n%s", b)
	}

	// Purge: dpkg forgets the packages; /etc/service is left alone.
	dpkgIn(t, root, "-P", "svkit-run", "svkit", "daemontools-run")
	got := states(t, root)
	for _, p := range []string{"svkit", "svkit-run", "daemontools", "daemontools-run"} {
		if s, ok := got[p]; ok && !strings.HasPrefix(s, "not-installed") {
			t.Errorf("purge: %s is %q", p, s)
		}
	}
	sameSnapshot(t, "purge", before, snapshot(t, root))
	calls = readCalls(t, root)
	if !strings.Contains(calls, "deb-systemd-helper purge svscan.service\n") {
		t.Errorf("purge: no deb-systemd-helper purge svscan.service; calls:\n%s", calls)
	}
	for _, line := range strings.Split(calls, "\n") {
		if strings.HasPrefix(line, "deb-systemd-invoke") || strings.HasPrefix(line, "systemctl") || strings.HasPrefix(line, "telinit") {
			t.Errorf("a maintainer script ran %q in the chroot", line)
		}
	}
}

// readCalls returns the log of the stand-in init tools in root.
func readCalls(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "tmp/calls.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// checkUpdateService runs the packaged update-service in the root: --add
// links the service into /etc/service and its supervise directories into
// /var/lib/supervise, --check and --list see it, --remove takes it away.
func checkUpdateService(t *testing.T, root string) {
	t.Helper()
	for _, f := range []string{"etc/sv/web/run", "etc/sv/web/log/run"} {
		testenv.WriteScript(t, filepath.Join(root, f), "exec sleep 1000\n")
	}
	us := "/usr/sbin/update-service"
	if out, code := inRoot(t, root, us, "--add", "/etc/sv/web"); code != 0 || !strings.Contains(out, "Service web added.") {
		t.Fatalf("update-service --add: exit %d\n%s", code, out)
	}
	for link, want := range map[string]string{
		"etc/service/web":          "/etc/sv/web",
		"etc/sv/web/supervise":     "/var/lib/supervise/web",
		"etc/sv/web/log/supervise": "/var/lib/supervise/web.log",
	} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != want {
			t.Errorf("after --add, /%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	if out, code := inRoot(t, root, us, "--add", "/etc/sv/web"); code != 0 || !strings.Contains(out, "already added") {
		t.Errorf("update-service --add twice: exit %d\n%s", code, out)
	}
	if out, code := inRoot(t, root, us, "--check", "web"); code != 0 || out != "" {
		t.Errorf("update-service --check web: exit %d %q", code, out)
	}
	if _, code := inRoot(t, root, us, "--check", "nosuch"); code == 0 {
		t.Errorf("update-service --check nosuch: exit 0")
	}
	if out, _ := inRoot(t, root, us, "--list"); strings.Fields(out)[0] != "demo" || !strings.Contains(out, "web") {
		t.Errorf("update-service --list: %q", out)
	}
	if out, code := inRoot(t, root, us, "--add", "etc/sv/web", "rel"); code == 0 || !strings.Contains(out, "must start with a slash") {
		t.Errorf("update-service --add with a relative path: exit %d\n%s", code, out)
	}
	if out, code := inRoot(t, root, us, "--remove", "/etc/sv/web"); code != 0 || !strings.Contains(out, "Service web removed") {
		t.Errorf("update-service --remove: exit %d\n%s", code, out)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/service/web")); err == nil {
		t.Errorf("update-service --remove left /etc/service/web")
	}
	if err := os.RemoveAll(filepath.Join(root, "etc/sv/web")); err != nil {
		t.Fatal(err)
	}
}
