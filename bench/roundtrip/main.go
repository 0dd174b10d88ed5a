// Command roundtrip measures how fast a supervise implementation reacts to
// svc: one round trip is `svc -d DIR`, polling DIR/supervise/status until
// it shows the service down (pid 0), `svc -u DIR`, polling until it shows it
// up again (a pid, wanted up). It prints the median and the 99th percentile
// in milliseconds.
//
//	roundtrip [-n N] [-mode pause|b2b|both] [-pause 1.1s] [-timeout 10s] [-burst BYTES] [-s6] SVC DIR
//
// SVC is the svc binary to use (Debian's /usr/bin/svc or svkit's), DIR a
// service directory already run by the supervise under test, with a run
// that starts quickly and dies on TERM. Mode "pause" sleeps after each up
// (daemontools 0.76 supervise blocks for 1 s after every start, so this
// measures reaction time outside that window); "b2b" runs the round trips
// back to back (so 0.76's 1-second sleep is included). With -s6 the status
// file is read in s6-supervise's layout (pid as a big-endian 64-bit number
// at offset 24); runsv writes daemontools' layout. With -burst, each round
// trip starts by writing BYTES bytes of "c" (continue: harmless to a
// running service) into DIR/supervise/control in one write, so the svc -d
// that follows waits behind them: how long a command takes when a script
// or a stray writer has queued many.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"svkit/pkg/svdir"
)

func main() {
	n := flag.Int("n", 20, "round trips per mode")
	mode := flag.String("mode", "both", "pause, b2b or both")
	pause := flag.Duration("pause", 1100*time.Millisecond, "sleep after each up in pause mode")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on one state change after this long")
	s6 := flag.Bool("s6", false, "read s6-supervise's status layout")
	burst := flag.Int("burst", 0, "bytes of \"c\" written into supervise/control before each round trip")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: roundtrip [-n N] [-mode pause|b2b|both] [-pause 1.1s] [-timeout 10s] [-burst BYTES] [-s6] SVC DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || *n < 1 {
		flag.Usage()
		os.Exit(100)
	}
	svc, dir := flag.Arg(0), flag.Arg(1)
	var modes []string
	switch *mode {
	case "both":
		modes = []string{"pause", "b2b"}
	case "pause", "b2b":
		modes = []string{*mode}
	default:
		flag.Usage()
		os.Exit(100)
	}
	b := &bench{svc: svc, dir: dir, timeout: *timeout, s6: *s6, burst: *burst}
	// Start from a known state: up, and out of any post-start sleep.
	if err := b.up(); err != nil {
		fatal(err)
	}
	time.Sleep(*pause)
	for _, m := range modes {
		var d []time.Duration
		for i := 0; i < *n; i++ {
			rt, err := b.roundTrip()
			if err != nil {
				fatal(err)
			}
			d = append(d, rt)
			if m == "pause" {
				time.Sleep(*pause)
			}
		}
		med, p99 := Percentile(d, 50), Percentile(d, 99)
		fmt.Printf("%s: n=%d median %.2f ms p99 %.2f ms\n", m, len(d), ms(med), ms(p99))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "roundtrip: fatal:", err)
	os.Exit(111)
}

type bench struct {
	svc, dir string
	timeout  time.Duration
	s6       bool
	burst    int
}

func (b *bench) svcRun(letter string) error {
	out, err := exec.Command(b.svc, "-"+letter, b.dir).CombinedOutput()
	if err != nil || len(out) > 0 {
		return fmt.Errorf("%s -%s %s: %v %s", b.svc, letter, b.dir, err, out)
	}
	return nil
}

// waitFor polls the status file until cond holds.
func (b *bench) waitFor(what string, cond func(svdir.Status) bool) error {
	deadline := time.Now().Add(b.timeout)
	path := filepath.Join(b.dir, svdir.StatusPath)
	for {
		r, err := b.read(path)
		if err == nil && cond(r) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s after %v (last: %+v, %v)", b.dir, what, b.timeout, r, err)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// read returns the status in daemontools' terms.
func (b *bench) read(path string) (svdir.Status, error) {
	raw, err := os.ReadFile(path)
	if !b.s6 {
		if err != nil {
			return svdir.Status{}, err
		}
		return svdir.DecodeStatus(raw)
	}
	if err != nil || len(raw) < 32 {
		return svdir.Status{}, fmt.Errorf("s6 status: %v (%d bytes)", err, len(raw))
	}
	// s6 keeps the wanted state in its flags byte; the benchmark only
	// needs the pid, so "up" is any pid.
	return svdir.Status{Pid: int(binary.BigEndian.Uint64(raw[24:32])), Want: svdir.WantUp}, nil
}

func (b *bench) up() error {
	if err := b.svcRun("u"); err != nil {
		return err
	}
	return b.waitFor("up", func(r svdir.Status) bool { return r.Pid != 0 && r.Want == svdir.WantUp })
}

func (b *bench) roundTrip() (time.Duration, error) {
	t0 := time.Now()
	if b.burst > 0 {
		f, err := os.OpenFile(filepath.Join(b.dir, svdir.ControlPath), os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		_, err = f.Write(bytes.Repeat([]byte("c"), b.burst))
		f.Close()
		if err != nil {
			return 0, err
		}
	}
	if err := b.svcRun("d"); err != nil {
		return 0, err
	}
	if err := b.waitFor("down", func(r svdir.Status) bool { return r.Pid == 0 }); err != nil {
		return 0, err
	}
	if err := b.up(); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// Percentile returns the p-th percentile of d (nearest rank).
func Percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}
