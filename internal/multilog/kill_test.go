package multilog

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"svkit/internal/testenv"
)

// logStream returns what the log directory holds as one stream: the
// archives in name order, then current. A line that a SIGKILL cut between
// a .u archive and the next current is whole again in it.
func logStream(t *testing.T, dir string) string {
	t.Helper()
	names, _ := filepath.Glob(dir + "/@*")
	sort.Strings(names)
	names = append(names, dir+"/current")
	var b strings.Builder
	for _, n := range names {
		c, err := os.ReadFile(n)
		if err != nil && !(os.IsNotExist(err) && strings.HasSuffix(n, "/current")) {
			t.Fatal(err)
		}
		b.Write(c)
	}
	return b.String()
}

var lineStampRE = regexp.MustCompile(`^(@[0-9a-f]{24} |[0-9]+\.[0-9]{6} )`)

// seqs parses the stream's lines "%08d z...": the numbers of the whole
// lines, and how many lines are not whole (a stamp is removed first).
func seqs(stream string, stamped bool) (nums []int, torn int) {
	lines := strings.Split(stream, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		if stamped {
			s := lineStampRE.FindString(l)
			if s == "" {
				torn++
				continue
			}
			l = l[len(s):]
		}
		num, err := strconv.Atoi(strings.SplitN(l, " ", 2)[0])
		if err != nil || l != testLine(num) {
			torn++
			continue
		}
		nums = append(nums, num)
	}
	return nums, torn
}

func testLine(i int) string { return fmt.Sprintf("%08d %s", i, strings.Repeat("z", i%97)) }

// startOn runs multilog in dir with the file as its stdin.
func startOn(t *testing.T, prog, dir string, in *os.File, args ...string) *testenv.Proc {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Stdin = in
	return testenv.Start(t, cmd)
}

// roFS is a small ext4 file system on a loop device, mounted with
// errors=remount-ro so that an error it is told of makes it read-only at
// once, even with files open for writing (mount -o remount,ro refuses
// then: EBUSY).
type roFS struct {
	img, mnt, trigger string
}

func newROFS(t *testing.T, dir string) *roFS {
	testenv.RequireRoot(t)
	_, err := exec.LookPath("mkfs.ext4")
	testenv.Require(t, err == nil, "mkfs.ext4 (e2fsprogs) not installed")
	f := &roFS{img: dir + "/img", mnt: dir + "/mnt"}
	os.Mkdir(f.mnt, 0755)
	if err := os.WriteFile(f.img, nil, 0600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f.img, 32<<20); err != nil {
		t.Fatal(err)
	}
	testenv.MustRun(t, "mkfs.ext4", "-q", "-F", "-O", "^has_journal", f.img)
	out, err := exec.Command("mount", "-o", "loop,errors=remount-ro", f.img, f.mnt).CombinedOutput()
	testenv.Require(t, err == nil, fmt.Sprintf("loop mount of ext4: %v: %s", err, out))
	t.Cleanup(func() { exec.Command("umount", "-l", f.mnt).Run() })
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", f.mnt).Output()
	if err != nil {
		t.Fatal(err)
	}
	f.trigger = "/sys/fs/ext4/" + filepath.Base(strings.TrimSpace(string(src))) + "/trigger_fs_error"
	return f
}

// readOnly syncs what is written, then makes the file system read-only
// through an ext4 error.
func (f *roFS) readOnly(t *testing.T) {
	testenv.MustRun(t, "sync", "-f", f.mnt)
	if err := os.WriteFile(f.trigger, []byte("test: read-only now\n"), 0200); err != nil {
		t.Fatal(err)
	}
}

// remount mounts the file system again, writable (nothing may hold it).
func (f *roFS) remount(t *testing.T) {
	testenv.MustRun(t, "umount", f.mnt)
	testenv.MustRun(t, "mount", "-o", "loop,errors=remount-ro", f.img, f.mnt)
}

// TestReadOnlyKill makes the log directory's file system read-only in the
// middle of a burst into the FIFO multilog reads: multilog warns and
// pauses, and a SIGKILL then loses nothing. Once the file system is
// writable again, a new multilog on the same FIFO writes every line of
// the burst, each once, in order.
func TestReadOnlyKill(t *testing.T) {
	ours := testenv.Prog(t, "multilog")
	for _, args := range [][]string{{"./log"}, {"t", "./log"}, {"T", "-*skip*", "e", "./log"}} {
		dir := t.TempDir()
		fs := newROFS(t, dir)
		mnt := fs.mnt
		fifo := dir + "/fifo"
		if err := syscall.Mkfifo(fifo, 0600); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, err := os.Open(fifo)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		logDir := mnt + "/log"
		p := startOn(t, ours, mnt, r, args...)
		send := func(from, to int) {
			var b strings.Builder
			for i := from; i < to; i++ {
				b.WriteString(testLine(i) + "\n")
			}
			if _, err := w.WriteString(b.String()); err != nil {
				t.Fatal(err)
			}
		}
		send(0, 1000)
		testenv.WaitFor(t, 10*time.Second, "1000 lines in current", func() bool {
			return strings.Count(testenv.Peek(logDir+"/current"), "\n") == 1000
		})
		fs.readOnly(t)
		send(1000, 4000) // about 150 KB: the FIFO holds it
		testenv.WaitFor(t, 10*time.Second, "pausing warning", func() bool {
			return strings.Contains(p.Stderr.String(), "multilog: warning: unable to write to ./log/current, pausing: read-only file system\n")
		})
		p.KillAndWait(t, syscall.SIGKILL)
		fs.remount(t)
		p = startOn(t, ours, mnt, r, args...)
		w.Close() // the end of input, once the FIFO is read
		if c := p.Wait(t, 20*time.Second); c != 0 {
			t.Fatalf("%q: exit %d after the restart: %s", args, c, p.Stderr.String())
		}
		nums, torn := seqs(logStream(t, logDir), args[0] != "./log")
		lost, dup := 0, 0
		next := 0
		for _, n := range nums {
			switch {
			case n > next:
				lost += n - next
			case n < next:
				dup++
				continue
			}
			next = n + 1
		}
		lost += 4000 - next
		if lost != 0 || dup != 0 || torn != 0 {
			t.Errorf("%q: of 4000 lines, %d lost, %d repeated, %d torn", args, lost, dup, torn)
		}
	}
}

// crashRun feeds a pipe with numbered lines from a goroutine and SIGKILLs
// multilog (args) at random instants, restarting it on the same pipe each
// time; then it ends the input and returns the log as one stream and how
// many lines were produced.
func crashRun(t *testing.T, kills int, args ...string) (string, int) {
	ours := testenv.Prog(t, "multilog")
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stop := make(chan struct{})
	produced := make(chan int)
	go func() {
		bw := bufio.NewWriterSize(w, 4096)
		i := 0
		for {
			select {
			case <-stop:
				bw.Flush()
				w.Close()
				produced <- i
				return
			default:
			}
			bw.WriteString(testLine(i) + "\n")
			i++
		}
	}()
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	for k := 0; k < kills; k++ {
		p := startOn(t, ours, dir, r, args...)
		time.Sleep(time.Duration(5+rnd.Intn(60)) * time.Millisecond)
		p.KillAndWait(t, syscall.SIGKILL)
	}
	p := startOn(t, ours, dir, r, args...)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	total := <-produced
	if c := p.Wait(t, 30*time.Second); c != 0 {
		t.Fatalf("final run exit %d: %s", c, p.Stderr.String())
	}
	return logStream(t, dir+"/log"), total
}

// TestCrashInjection kills multilog at random moments while it rotates
// under load, restarting it on the same pipe each time: without a stamp,
// the log holds every line exactly once, in order, none torn (current is
// spliced from the pipe, which writes and consumes in one step).
func TestCrashInjection(t *testing.T) {
	stream, total := crashRun(t, 12, "s4096", "n100000", "./log")
	nums, torn := seqs(stream, false)
	for i, n := range nums {
		if n != i {
			t.Fatalf("line %d holds %d (lost, repeated or out of order)", i, n)
		}
	}
	if len(nums) != total || torn != 0 {
		t.Errorf("%d lines produced, %d in the log, %d torn", total, len(nums), torn)
	}
	t.Logf("%d lines produced, all in the log once after 12 kills", total)
}

// TestCrashInjectionStamped is TestCrashInjection with t: nothing is lost
// or out of order; a kill between a write and the consume that follows
// it writes that piece again (at most one peek, ReadSize bytes), and a
// write it cut leaves one torn line.
func TestCrashInjectionStamped(t *testing.T) {
	kills := 12
	stream, total := crashRun(t, kills, "t", "s4096", "n100000", "./log")
	nums, torn := seqs(stream, true)
	next, dup, repeats := 0, 0, 0
	for i, n := range nums {
		if n > next {
			t.Fatalf("line %d holds %d after %d: %d lines lost", i, n, next-1, n-next)
		}
		if n < next {
			if i == 0 || nums[i-1] >= n {
				repeats++ // a piece written again starts here
			}
			dup++
		}
		next = max(next, n+1)
	}
	if next != total {
		t.Errorf("%d lines produced, the log ends at %d", total, next-1)
	}
	if repeats > kills || dup > kills*(ReadSize/len(testLine(0)+"\n")) || torn > kills {
		t.Errorf("%d kills: %d pieces written twice (%d lines), %d torn lines", kills, repeats, dup, torn)
	}
	t.Logf("%d lines produced, all in the log after %d kills; %d pieces written twice (%d lines), %d torn", total, kills, repeats, dup, torn)
}
