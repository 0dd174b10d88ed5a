package svhttpd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// TestList: GET /v1/services over a tree that svscan runs lists every
// service with the keys of svstat -j plus name, supervised and log; a name
// that is not an entry of the scan directory is 404, whatever it is.
func TestList(t *testing.T) {
	tr := newTree(t)
	// Entries svscan skips or cannot run: a dot name, a file, a symlink to
	// a file. A symlink to a directory is a service, as for svscan.
	os.Mkdir(filepath.Join(tr.scan, ".hidden"), 0755)
	os.WriteFile(filepath.Join(tr.scan, "file"), nil, 0644)
	os.Symlink("/etc/passwd", filepath.Join(tr.scan, "tofile"))
	other := filepath.Join(tr.root, "elsewhere")
	testenv.WriteScript(t, filepath.Join(other, "run"), serviceRun)
	os.Symlink(other, filepath.Join(tr.scan, "linked"))
	tr.svscan(t)
	d := startDaemon(t, tr.root, tr.scan)

	code, b := do(t, d.c, "GET", "/v1/services")
	if code != 200 {
		t.Fatalf("GET /v1/services: %d %s", code, b)
	}
	var list []map[string]any
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o["name"].(string))
	}
	if strings.Join(names, " ") != "db linked web" {
		t.Fatalf("services %v, want db linked web", names)
	}
	// The same keys as svstat -j, plus four.
	out, _, _ := testenv.Run(t, tr.scan, "", testenv.Prog(t, "svstat"), "-j", "web")
	var sv map[string]any
	json.Unmarshal([]byte(out), &sv)
	web := list[2]
	for k := range sv {
		if _, ok := web[k]; !ok {
			t.Errorf("key %q of svstat -j missing", k)
		}
	}
	if len(web) != len(sv)+4 || web["supervised"] != true || web["may_control"] != true || web["state"] != "up" {
		t.Errorf("web: %v", web)
	}
	log, ok := web["log"].(map[string]any)
	if !ok || log["name"] != "web/log" || log["state"] != "up" || log["supervised"] != true {
		t.Errorf("web's log: %v", web["log"])
	}
	if db := list[0]; db["log"] != nil || db["state"] != "down" || db["normally_up"] != false {
		t.Errorf("db: %v", db)
	}
	if got := d.get(t, "web"); got["pid"] != web["pid"] {
		t.Errorf("GET /v1/services/web: %v", got)
	}

	for _, p := range []string{"/v1/services/nosuch", "/v1/services/.hidden", "/v1/services/file",
		"/v1/services/tofile", "/v1/services/..", "/v1/services/%2e%2e", "/v1/services/..%2Fsv%2Fweb",
		"/v1/services/web%2Flog", "/v1/services/%2Fetc", "/v1/services/web/log", "/nosuch"} {
		code, b := do(t, d.c, "GET", p)
		if code != 404 || object(t, b)["error"] == nil {
			t.Errorf("GET %s: %d %s, want 404 with a JSON error", p, code, b)
		}
	}
	for _, p := range []string{"/v1/services/..%2F..%2Fetc/svc?cmd=d", "/v1/services/nosuch/svc?cmd=d",
		"/v1/services/db/log/svc?cmd=d"} {
		if code, b := do(t, d.c, "POST", p); code != 404 {
			t.Errorf("POST %s: %d %s, want 404", p, code, b)
		}
	}
	if code, b := do(t, d.c, "DELETE", "/v1/services/web"); code != 405 {
		t.Errorf("DELETE: %d %s", code, b)
	}

	// Not supervised: svstat's error, supervised false.
	os.Mkdir(filepath.Join(tr.scan, "plain"), 0755)
	p := d.get(t, "plain")
	if p["supervised"] != false || p["error"] != "unable to open supervise/ok: file does not exist" || p["state"] != nil {
		t.Errorf("plain: %v", p)
	}
}

// TestEveryLetter sends each of svc's letters through the API to svkit's
// supervise and to Debian's 0.76 supervise and sees each take effect.
func TestEveryLetter(t *testing.T) {
	t.Run("svkit", func(t *testing.T) { everyLetter(t, testenv.Prog(t, "supervise")) })
	t.Run("debian", func(t *testing.T) { everyLetter(t, testenv.Debian(t, "supervise")) })
}

// everyLetter: every letter is answered 200 once supervise has read it
// and, for u, d, o, p and c, recorded it in status.
func everyLetter(t *testing.T, supervise string) {
	tr := newTree(t)
	ps := tr.supervise(t, supervise)
	d := startDaemon(t, tr.root, tr.scan)
	web := filepath.Join(tr.scan, "web")
	post := func(path string, want ...int) map[string]any {
		t.Helper()
		code, b := do(t, d.c, "POST", path)
		for _, w := range want {
			if code == w {
				return object(t, b)
			}
		}
		t.Fatalf("POST %s: %d %s, want %v", path, code, b, want)
		return nil
	}
	signal := func(letter string) map[string]any {
		t.Helper()
		return post("/v1/services/web/svc?cmd="+letter, 200)
	}
	sigs := func(want string) {
		t.Helper()
		testenv.WaitFor(t, 5*time.Second, want+" in sigs", func() bool {
			b, _ := os.ReadFile(filepath.Join(web, "sigs"))
			return strings.Contains(string(b), want)
		})
	}
	// running waits until web runs a process other than old, with its traps
	// set, and returns its pid.
	running := func(old float64) float64 {
		t.Helper()
		var p float64
		testenv.WaitFor(t, 5*time.Second, "web up with its traps set", func() bool {
			p, _ = d.get(t, "web")["pid"].(float64)
			b, _ := os.ReadFile(filepath.Join(web, "pids"))
			f := strings.Fields(string(b))
			return p != 0 && p != old && len(f) > 0 && f[len(f)-1] == strconv.FormatFloat(p, 'f', -1, 64)
		})
		return p
	}
	state := func(want string) {
		t.Helper()
		testenv.WaitFor(t, 5*time.Second, "web "+want, func() bool { return d.get(t, "web")["state"] == want })
	}

	p0 := running(0)
	if o := post("/v1/services/web/svc?cmd=d", 200); o["wanted"] != "down" {
		t.Errorf("after d: %v", o)
	}
	state("down")
	if o := post("/v1/services/web/svc?cmd=u", 200); o["wanted"] != "up" {
		t.Errorf("after u: %v", o)
	}
	p1 := running(p0)
	if o := post("/v1/services/web/svc?cmd=p", 200); o["paused"] != true {
		t.Errorf("after p: %v", o)
	}
	if o := post("/v1/services/web/svc?cmd=c", 200); o["paused"] != false {
		t.Errorf("after c: %v", o)
	}
	signal("h")
	sigs("hup")
	signal("a")
	sigs("alrm")
	signal("i")
	sigs("int")
	signal("t")
	sigs("term")
	p2 := running(p1)
	signal("k")
	running(p2)
	if o := post("/v1/services/web/svc?cmd=o", 200); o["wanted"] != "once" {
		t.Errorf("after o: %v", o)
	}
	// The logger has its own route.
	if o := post("/v1/services/web/log/svc?cmd=d", 200); o["name"] != "web/log" || o["wanted"] != "down" {
		t.Errorf("after log d: %v", o)
	}
	// wait=0 answers at once: 202.
	post("/v1/services/web/log/svc?cmd=u&wait=0", 202)
	for _, bad := range []string{"cmd=z", "cmd=U", "cmd=", "cmd=u&timeout=x", "cmd=u&wait=yes", "cmd=-u"} {
		post("/v1/services/web/svc?"+bad, 400)
	}
	// x: supervise exits once the service is down.
	post("/v1/services/db/svc?cmd=dx", 200)
	ps[filepath.Join(tr.scan, "db")].Wait(t, 5*time.Second)
	if o := d.get(t, "db"); o["supervised"] != false {
		t.Errorf("db after x: %v", o)
	}
	log := d.p.Stderr.String()
	if !strings.Contains(log, `uid 0 gid 0 pid `) || !strings.Contains(log, `svc -dx "db": 200`) || !strings.Contains(log, `svc -z "web": 400`) {
		t.Errorf("audit lines missing: %s", log)
	}
}

// TestCommandAtStart: a command sent while a supervise that just started
// is in its pause after the first start of run is answered with the state
// it asked for. 0.76's supervise rewrites status, unchanged, at the end of
// that pause, just before it reads the command: a replaced status is not
// the answer.
func TestCommandAtStart(t *testing.T) {
	for _, prog := range []struct{ name, path string }{
		{"svkit", testenv.Prog(t, "supervise")}, {"debian", testenv.Debian(t, "supervise")},
	} {
		t.Run(prog.name, func(t *testing.T) {
			tr := newTree(t)
			d := startDaemon(t, tr.root, tr.scan)
			web := filepath.Join(tr.scan, "web")
			// A TERM that reaches run's background sleep before the
			// forked shell has reset its traps is lost, and svkit's
			// supervise exits only once the leftover sleep is gone:
			// timeout-kill ends it at once (0.76 ignores the file).
			testenv.WriteFile(t, filepath.Join(web, "timeout-kill"), "100\n", 0644)
			for i := 0; i < 3; i++ {
				p := testenv.StartSupervise(t, prog.path, web)
				code, b := do(t, d.c, "POST", "/v1/services/web/svc?cmd=d")
				if o := object(t, b); code != 200 || o["wanted"] != "down" {
					t.Fatalf("try %d: d at start: %d %v", i, code, o)
				}
				svdir.Send(web, "x")
				p.Wait(t, 5*time.Second)
			}
		})
	}
}

// TestBatch: POST /v1/svc for many services at once, answered per service.
func TestBatch(t *testing.T) {
	tr := newTree(t)
	tr.svscan(t)
	d := startDaemon(t, tr.root, tr.scan)
	code, b := do(t, d.c, "POST", "/v1/svc?cmd=u&service=db&service=nosuch&service=web")
	var res []Result
	if code != 200 || json.Unmarshal(b, &res) != nil || len(res) != 3 {
		t.Fatalf("POST /v1/svc: %d %s", code, b)
	}
	if res[0].Name != "db" || res[0].Status != 200 || res[1].Status != 404 || res[2].Status != 200 {
		t.Errorf("results: %s", b)
	}
	testenv.WaitFor(t, 5*time.Second, "db up", func() bool { return d.get(t, "db")["state"] == "up" })
	pids := map[string]any{"db": d.get(t, "db")["pid"], "web": d.get(t, "web")["pid"]}
	// Restart all.
	code, b = do(t, d.c, "POST", "/v1/svc?cmd=t&service=*")
	if code != 200 || json.Unmarshal(b, &res) != nil || len(res) != 2 || res[0].Status != 200 || res[1].Status != 200 {
		t.Fatalf("restart all: %d %s", code, b)
	}
	for name, p := range pids {
		testenv.WaitFor(t, 5*time.Second, name+" restarted", func() bool {
			o := d.get(t, name)
			return o["pid"] != p && o["pid"] != 0.0
		})
	}
	for _, bad := range []string{"/v1/svc?cmd=t", "/v1/svc?cmd=q&service=*"} {
		if code, b := do(t, d.c, "POST", bad); code != 400 {
			t.Errorf("POST %s: %d %s", bad, code, b)
		}
	}
}

// TestPermission: a command is allowed exactly when the caller could send
// it with svc. nobody is refused while supervise/ is root's (0700, control
// 0600), allowed once the group it runs with is given the FIFO (the man
// page's chgrp and chmod), and refused again when it runs without that
// group, even though /etc/group lists nobody in it.
func TestPermission(t *testing.T) {
	testenv.RequireRoot(t)
	curl, err := exec.LookPath("curl")
	testenv.Require(t, err == nil, "curl is not installed (scripts/deps installs it)")
	const group = 100 // "users" in Debian's base /etc/group
	tr := newTree(t)
	tr.svscan(t)
	d := startDaemon(t, tr.root, tr.scan, "-M", "666")
	web := filepath.Join(tr.scan, "web")
	as := func(groups []uint32, method, path string) (int, string) {
		t.Helper()
		cmd := exec.Command(curl, "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", d.sock, "-X", method, "http://svhttpd"+path)
		cmd.SysProcAttr = credentials(65534, 65534, groups)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl as nobody: %v %s", err, out)
		}
		s := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(s, '\n')
		code := 0
		for _, c := range s[i+1:] {
			code = code*10 + int(c-'0')
		}
		return code, s[:max(i, 0)]
	}

	// Anyone may read.
	if code, body := as(nil, "GET", "/v1/services/web"); code != 200 || !strings.Contains(body, `"name":"web"`) {
		t.Fatalf("nobody GET: %d %s", code, body)
	}
	code, body := as([]uint32{group}, "POST", "/v1/services/web/svc?cmd=d")
	if code != 403 || !strings.Contains(body, `"error":"permission denied"`) {
		t.Fatalf("nobody before chmod: %d %s, want 403", code, body)
	}
	if d.get(t, "web")["wanted"] != "up" {
		t.Fatal("a refused command was sent")
	}

	// The man page's example, for group users.
	for _, c := range [][]string{
		{"chgrp", "users", web + "/supervise", web + "/supervise/control"},
		{"chmod", "710", web + "/supervise"},
		{"chmod", "620", web + "/supervise/control"},
	} {
		testenv.MustRun(t, c[0], c[1:]...)
	}
	code, body = as([]uint32{group}, "POST", "/v1/services/web/svc?cmd=d")
	if code != 200 || !strings.Contains(body, `"wanted":"down"`) {
		t.Fatalf("nobody with group users after chmod: %d %s, want 200", code, body)
	}

	// /etc/group says nobody is in users; the process says it is not.
	addMember(t, "users", "nobody")
	code, body = as(nil, "POST", "/v1/services/web/svc?cmd=u")
	if code != 403 {
		t.Fatalf("nobody without group users: %d %s, want 403", code, body)
	}
	if d.get(t, "web")["wanted"] != "down" {
		t.Fatal("a refused command was sent")
	}
	// The log service is still root's.
	if code, _ := as([]uint32{group}, "POST", "/v1/services/web/log/svc?cmd=d"); code != 403 {
		t.Errorf("nobody on web/log: %d, want 403", code)
	}
	// The batch form answers per service.
	code, body = as([]uint32{group}, "POST", "/v1/svc?cmd=u&service=*")
	var res []Result
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res) != 2 || res[0].Status != 403 || res[1].Status != 200 {
		t.Errorf("nobody's batch: %d %s", code, body)
	}
	log := d.p.Stderr.String()
	for _, want := range []string{`uid 65534 gid 65534 pid `, `svc -d "web": 403 permission denied`, `svc -d "web": 200`, `svc -u "web": 403`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
}

// addMember adds user to group in /etc/group for the rest of the test,
// replacing the file atomically both ways.
func addMember(t *testing.T, group, user string) {
	t.Helper()
	orig, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	found := false
	for _, line := range strings.SplitAfter(string(orig), "\n") {
		if strings.HasPrefix(line, group+":") {
			found = true
			nl := strings.HasSuffix(line, "\n")
			line = strings.TrimSuffix(line, "\n")
			if !strings.HasSuffix(line, ":") {
				line += ","
			}
			line += user
			if nl {
				line += "\n"
			}
		}
		out.WriteString(line)
	}
	if !found {
		t.Fatalf("no group %s in /etc/group", group)
	}
	replace := func(b []byte) {
		tmp := "/etc/group.svhttpd-test"
		if err := os.WriteFile(tmp, b, 0644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, "/etc/group"); err != nil {
			t.Fatal(err)
		}
	}
	replace(out.Bytes())
	t.Cleanup(func() { replace(orig) })
}

// TestEvents: a change is seen on /v1/events within a second; a client
// that reconnects with Last-Event-ID gets what it missed, and one with an
// unknown id gets a fresh snapshot.
func TestEvents(t *testing.T) {
	tr := newTree(t)
	tr.svscan(t)
	d := startDaemon(t, tr.root, tr.scan)
	s := d.events(t, "")
	snap := s.next(t, 5*time.Second)
	var list []map[string]any
	if snap.kind != "snapshot" || json.Unmarshal(snap.data, &list) != nil || len(list) != 2 {
		t.Fatalf("first event: %s %s", snap.kind, snap.data)
	}
	svc := testenv.Prog(t, "svc")
	web := filepath.Join(tr.scan, "web")
	sent := time.Now()
	testenv.Run(t, "/", "", svc, "-d", web)
	down := s.until(t, time.Second, "web down", func(ev sseEvent) bool {
		return ev.kind == "state" && bytes.Contains(ev.data, []byte(`"name":"web"`)) && bytes.Contains(ev.data, []byte(`"state":"down"`))
	})
	t.Logf("web down seen after %v", time.Since(sent))
	s.resp.Body.Close()

	// Missed while away: web up again, and its logger down.
	testenv.Run(t, "/", "", svc, "-u", web)
	testenv.Run(t, "/", "", svc, "-d", web+"/log")
	testenv.WaitFor(t, 5*time.Second, "web/log down", func() bool {
		l, _ := d.get(t, "web")["log"].(map[string]any)
		return l["state"] == "down"
	})
	s2 := d.events(t, down.id)
	ev := s2.until(t, 2*time.Second, "web/log down replayed", func(ev sseEvent) bool {
		if ev.kind == "snapshot" {
			t.Fatalf("snapshot instead of the missed events")
		}
		return bytes.Contains(ev.data, []byte(`"name":"web/log","dir":"`+web+`/log","state":"down"`))
	})
	if ev.id <= down.id && len(ev.id) <= len(down.id) {
		t.Errorf("replayed id %s not after %s", ev.id, down.id)
	}
	t.Cleanup(func() {
		if t.Failed() {
			syscall.Kill(d.p.Pid(), syscall.SIGQUIT)
			time.Sleep(300 * time.Millisecond)
			t.Logf("svhttpd stderr: %s", d.p.Stderr)
		}
	})
	s3 := d.events(t, "123-4")
	if ev := s3.next(t, 2*time.Second); ev.kind != "snapshot" {
		t.Errorf("unknown id: first event %s, want snapshot", ev.kind)
	}

	// A new service appears as a state event, a removed one as removed.
	s4 := d.events(t, "")
	s4.next(t, 2*time.Second)
	os.Mkdir(filepath.Join(tr.scan, "new"), 0755)
	s4.until(t, 2*time.Second, "new service", func(ev sseEvent) bool {
		return ev.kind == "state" && bytes.Contains(ev.data, []byte(`"name":"new"`))
	})
	os.Remove(filepath.Join(tr.scan, "new"))
	s4.until(t, 2*time.Second, "service removed", func(ev sseEvent) bool {
		return ev.kind == "removed" && string(ev.data) == `{"name":"new"}`
	})
}

func credentials(uid, gid uint32, groups []uint32) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
}

// TestTerm: TERM stops svhttpd with exit 0, event clients and all, and
// removes its socket; a usage error exits 100.
func TestTerm(t *testing.T) {
	tr := newTree(t)
	d := startDaemon(t, tr.root, tr.scan)
	d.events(t, "").next(t, 2*time.Second)
	d.p.KillAndWait(t, syscall.SIGTERM)
	if code := d.p.State().ExitCode(); code != 0 {
		t.Errorf("exit %d after TERM: %s", code, d.p.Stderr)
	}
	if _, err := os.Lstat(d.sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	_, errs, code := testenv.Run(t, "/", "", testenv.Prog(t, "svhttpd"), "-M", "999", tr.scan)
	if code != 100 || !strings.Contains(errs, "svhttpd: usage: ") {
		t.Errorf("bad mode: exit %d %q", code, errs)
	}
}
