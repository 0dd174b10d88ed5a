package svhttpd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"svkit/internal/testenv"
	"svkit/pkg/svdir"
)

// chromium is Debian's browser, driven over the DevTools protocol.
const chromium = "/usr/bin/chromium"

// browser starts a headless chromium (root needs --no-sandbox) with its
// profile in a temporary directory, and returns the context of its first
// tab. Cleanup stops it, then kills by pid whatever of it is left (its
// processes are the ones whose command line names the profile).
func browser(t *testing.T) context.Context {
	t.Helper()
	_, err := os.Stat(chromium)
	testenv.Require(t, err == nil, chromium+" is not installed (scripts/deps installs Debian's chromium)")
	profile := t.TempDir()
	// chromedp's defaults (after Puppeteer's) keep chromium from lowering
	// the priority of background tabs' renderers, which a busy machine then
	// starves, and from reaching out to the network, which a closed one
	// refuses; QUIC and component updates are off for the same reason.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(profile), chromedp.WindowSize(1000, 700),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.IgnoreCertErrors) // the TLS test's certificate is self-signed
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
		left := profileProcs(profile)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(left) > 0 {
			t.Errorf("chromium processes left after cancel: %v", left)
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// profileProcs lists the processes whose command line names profile.
func profileProcs(profile string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if strings.Contains(strings.Join(testenv.Cmdline(pid), " "), profile) {
			out = append(out, pid)
		}
	}
	return out
}

// tab opens a new tab of the browser of ctx that sends auth with every
// request, and loads url in it.
func tab(t *testing.T, ctx context.Context, auth, url string) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		if _, err := chromedp.Call(tctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return tctx
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	// Generous: a renderer of a machine busy with other tests may stall.
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitJS waits until the expression is true in the tab, at most timeout,
// and returns how long that took.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, js string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if eval[bool](t, ctx, js) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stateOf is the expression of a service's state cell.
func stateOf(name string) string {
	return fmt.Sprintf(`(document.querySelector('tr[data-name=%q] td.state') || {}).textContent`, name)
}

// browserRun is the test services' run: serviceRun, also saying on its
// log which signals it gets.
var browserRun = "echo \"started $$\"\n" +
	strings.Replace(serviceRun, "trap 'echo hup >> sigs' HUP", "trap 'echo hup >> sigs; echo got hup' HUP", 1)

// TestBrowser drives the page in Debian's chromium: it shows every service
// of a real svscan tree before and after its script runs; "down" on one
// changes its row within a second without a reload, in a second tab too;
// a request from a page of another origin is refused; a client whose token
// file is nobody's sees every button of root's services disabled and is
// refused a command, also logged in by the browser itself (user and token
// in the URL), over TLS and HTTP/2 too, and reads it on a phone's screen
// without scrolling
// sideways; a click on a row follows that service's log.
func TestBrowser(t *testing.T) {
	testenv.RequireRoot(t)
	tr := newTree(t)
	testenv.WriteScript(t, filepath.Join(tr.scan, "web/run"), "exec 2>&1\n"+browserRun)
	testenv.WriteScript(t, filepath.Join(tr.scan, "web/log/run"), "exec multilog t ./main\n")
	tr.svscan(t)
	d, addr, tk := startTCP(t, tr, tokenFile{"admin", "admin-token", 0}, tokenFile{"viewer", "viewer-token", 65534})
	base := "http://" + addr + "/"
	admin := basic("admin", "admin-token")
	ctx := browser(t)

	one := tab(t, ctx, admin, base)
	two := tab(t, ctx, admin, base)
	for i, c := range []context.Context{one, two} {
		waitJS(t, c, 10*time.Second, "the page live", `document.getElementById('live').className === 'on'`)
		names := eval[string](t, c, `Array.from(document.querySelectorAll('#services tbody tr')).map(r => r.dataset.name).join(' ')`)
		if names != "db web" {
			t.Fatalf("tab %d shows %q, want db web", i+1, names)
		}
		if s := eval[string](t, c, stateOf("web")); s != "up" {
			t.Fatalf("tab %d: web is %q", i+1, s)
		}
		if n := eval[int](t, c, `document.querySelectorAll('#services button:disabled').length`); n != 0 {
			t.Errorf("tab %d: %d buttons disabled for root's client", i+1, n)
		}
	}
	pidText := eval[string](t, one, `document.querySelector('tr[data-name="web"] td.pid').textContent`)
	if pidText != strconv.Itoa(testenv.PidOf(filepath.Join(tr.scan, "web"))) {
		t.Errorf("web's pid on the page %q, supervise says %d", pidText, testenv.PidOf(filepath.Join(tr.scan, "web")))
	}

	// Down: the row changes in both tabs, within a second, no reload.
	eval[bool](t, one, `window.marker = true`)
	eval[bool](t, two, `window.marker = true`)
	if err := chromedp.Do(one, chromedp.Click(chromedp.CSS(`tr[data-name="web"] button[data-cmd="d"]`))); err != nil {
		t.Fatal(err)
	}
	took1 := waitJS(t, one, time.Second, "web down in the first tab", stateOf("web")+` === 'down'`)
	took2 := waitJS(t, two, time.Second, "web down in the second tab", stateOf("web")+` === 'down'`)
	t.Logf("web's row down after %v (first tab), %v more (second tab)", took1, took2)
	for i, c := range []context.Context{one, two} {
		if !eval[bool](t, c, `window.marker === true`) {
			t.Errorf("tab %d was reloaded", i+1)
		}
	}
	if st, err := svdir.ReadStatusOf(filepath.Join(tr.scan, "web")); err != nil || st.Pid != 0 {
		t.Errorf("web after down: %+v %v", st, err)
	}

	// A page of another origin posts "up" with the admin's credentials:
	// refused, nothing sent.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!DOCTYPE html><title>evil</title><script>
fetch(%q, {method: "POST", mode: "no-cors"}).then(() => document.title = "sent", () => document.title = "failed");
</script>`, base+"v1/services/web/svc?cmd=u")
	}))
	defer evil.Close()
	other := tab(t, ctx, admin, evil.URL)
	waitJS(t, other, 5*time.Second, "the other origin's POST", `document.title !== 'evil'`)
	testenv.WaitFor(t, 5*time.Second, "svhttpd to log the refusal", func() bool {
		return strings.Contains(d.p.Stderr.String(), `cross-origin request refused: POST "/v1/services/web/svc"`)
	})
	if d.get(t, "web")["wanted"] != "down" {
		t.Fatal("the other origin's command was sent")
	}

	// nobody's client: every button disabled, a command refused.
	view := tab(t, ctx, basic("viewer", "viewer-token"), base)
	waitJS(t, view, 10*time.Second, "the viewer's page live", `document.getElementById('live').className === 'on'`)
	if n := eval[int](t, view, `document.querySelectorAll('#services tbody tr').length`); n != 2 {
		t.Errorf("viewer sees %d services", n)
	}
	if !eval[bool](t, view, `Array.from(document.querySelectorAll('button[data-cmd]')).every(b => b.disabled)`) {
		t.Error("viewer has buttons enabled")
	}
	if code := eval[int](t, view, `fetch('/v1/services/web/svc?cmd=u', {method: 'POST'}).then(r => r.status)`); code != 403 {
		t.Errorf("viewer's POST: %d, want 403", code)
	}
	if d.get(t, "web")["wanted"] != "down" {
		t.Fatal("the viewer's command was sent")
	}

	// The browser's own Basic login (credentials in the URL, no header
	// added): the page, its script and its event stream are served.
	own := tab(t, ctx, "", "http://viewer:viewer-token@"+addr+"/")
	waitJS(t, own, 10*time.Second, "the page live with the browser's own login", `document.getElementById('live').className === 'on'`)
	if n := eval[int](t, own, `document.querySelectorAll('#services tbody tr').length`); n != 2 {
		t.Errorf("with the browser's own login: %d services", n)
	}

	// Over TLS (a second svhttpd, on every address): the page over HTTP/2,
	// live, a command from it.
	cert, key, _ := selfSigned(t, tr.root)
	port := freePort(t)[len("127.0.0.1:"):]
	tlsd := startDaemon(t, t.TempDir(), tr.scan, "-l", "0.0.0.0:"+port, "-a", tk, "-C", cert, "-K", key)
	sec := tab(t, ctx, admin, "https://127.0.0.1:"+port+"/")
	waitJS(t, sec, 10*time.Second, "the page live over TLS", `document.getElementById('live').className === 'on'`)
	if proto := eval[string](t, sec, `performance.getEntriesByType('navigation')[0].nextHopProtocol`); proto != "h2" {
		t.Errorf("page over TLS by %q, want h2", proto)
	}
	if code := eval[int](t, sec, `fetch('/v1/services/db/svc?cmd=o', {method: 'POST'}).then(r => r.status)`); code != 200 {
		t.Errorf("POST over TLS: %d", code)
	}
	waitJS(t, sec, time.Second, "db once over TLS", stateOf("db")+` !== 'down'`)
	if !strings.Contains(tlsd.p.Stderr.String(), `client "admin" uid 0 gid 0: svc -o "db": 200`) {
		t.Errorf("TLS svhttpd's audit log: %s", tlsd.p.Stderr)
	}

	// On a phone's screen (360 CSS pixels, mobile viewport): nothing wider
	// than the screen, the header row hidden, each service a block.
	if _, err := chromedp.Call(view, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 360, Height: 740, DeviceScaleFactor: 3, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, view, 5*time.Second, "the phone layout", `window.innerWidth === 360 && getComputedStyle(document.querySelector('#services thead')).display === 'none'`)
	if w := eval[int](t, view, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("on a phone the page is %d pixels wide, wider than the screen's 360", w)
	}

	// A click on web's name follows its log.
	if err := chromedp.Do(one, chromedp.Click(chromedp.CSS(`tr[data-name="web"] a.open`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, one, 5*time.Second, "web's log shown", `!document.getElementById('log').hidden && document.getElementById('loglines').textContent.includes('started ')`)
	if err := chromedp.Do(one, chromedp.Click(chromedp.CSS(`tr[data-name="web"] button[data-cmd="u"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, one, 5*time.Second, "web up again", stateOf("web")+` === 'up'`)
	// Its traps are set once its pid is in pids (a HUP before that would
	// end it).
	testenv.WaitFor(t, 5*time.Second, "web's new run with its traps set", func() bool {
		pid := testenv.PidOf(filepath.Join(tr.scan, "web"))
		b, _ := os.ReadFile(filepath.Join(tr.scan, "web/pids"))
		f := strings.Fields(string(b))
		return pid != 0 && len(f) > 0 && f[len(f)-1] == strconv.Itoa(pid)
	})
	testenv.Control(t, filepath.Join(tr.scan, "web"), "h")
	waitJS(t, one, 5*time.Second, "the new line in web's log", `document.getElementById('loglines').textContent.includes('got hup')`)
}
