// Command svlogload makes and feeds the log directories bench/svlog.sh
// reads, and measures how late followed lines arrive.
//
//	svlogload make DIR SERVICES ARCHIVES LINES
//	svlogload write DIR SERVICES RATE SECONDS ROTATE
//	svlogload latency < lines
//
// make creates DIR/sNNN/log/main for SERVICES services, each with ARCHIVES
// archives (@<tai64n>.s) of LINES stamped lines and a current of LINES/2.
// write appends stamped lines to those currents, RATE lines a second in
// total, round robin, for SECONDS, renaming a service's current to an
// archive and starting a new one (as multilog does) every ROTATE of its
// lines; each line carries its write time as t=UNIXNANO. latency reads
// lines holding t=UNIXNANO and prints how many came and how late (median,
// 99th percentile, maximum) in milliseconds.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"svkit/pkg/tai64"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: svlogload make|write|latency ...")
	}
	switch os.Args[1] {
	case "make":
		mk(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5]))
	case "write":
		write(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5]), atoi(os.Args[6]))
	case "latency":
		latency()
	default:
		fail("unknown mode " + os.Args[1])
	}
}

func fail(s string) {
	fmt.Fprintln(os.Stderr, "svlogload: "+s)
	os.Exit(100)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail("not a number: " + s)
	}
	return n
}

func logDir(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("s%03d", i), "log", "main")
}

func line(b []byte, svc, seq int, now time.Time) []byte {
	b = append(b, '@')
	b = tai64.FromTime(now).AppendHex(b)
	return fmt.Appendf(b, " s%03d seq=%d t=%d some text to make the line about a hundred bytes long\n", svc, seq, now.UnixNano())
}

func mk(dir string, services, archives, lines int) {
	start := time.Now().Add(-time.Hour)
	for s := 0; s < services; s++ {
		d := logDir(dir, s)
		if err := os.MkdirAll(d, 0755); err != nil {
			fail(err.Error())
		}
		t := start.Add(time.Duration(s) * time.Millisecond)
		seq := 0
		for a := 0; a <= archives; a++ {
			n := lines
			if a == archives {
				n = lines / 2
			}
			var b []byte
			for i := 0; i < n; i++ {
				b = line(b, s, seq, t)
				seq++
				t = t.Add(time.Second)
			}
			name := "current"
			if a < archives {
				name = tai64.FromTime(t).String() + ".s"
			}
			if err := os.WriteFile(filepath.Join(d, name), b, 0644); err != nil {
				fail(err.Error())
			}
		}
	}
}

func write(dir string, services, rate, seconds, rotate int) {
	files := make([]*os.File, services)
	count := make([]int, services)
	open := func(s int) {
		f, err := os.OpenFile(filepath.Join(logDir(dir, s), "current"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0644)
		if err != nil {
			fail(err.Error())
		}
		files[s] = f
	}
	for s := range files {
		open(s)
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var b []byte
	for i := 0; i < rate*seconds; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		s := i % services
		b = line(b[:0], s, count[s], time.Now())
		if _, err := files[s].Write(b); err != nil {
			fail(err.Error())
		}
		count[s]++
		if rotate > 0 && count[s]%rotate == 0 {
			d := logDir(dir, s)
			files[s].Close()
			if err := os.Rename(filepath.Join(d, "current"), filepath.Join(d, tai64.FromTime(time.Now()).String()+".s")); err != nil {
				fail(err.Error())
			}
			open(s)
		}
	}
}

func latency() {
	var lat []float64
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		now := time.Now().UnixNano()
		l := sc.Text()
		i := strings.Index(l, " t=")
		if i < 0 {
			continue
		}
		f := strings.Fields(l[i+3:])
		if len(f) == 0 {
			continue
		}
		t, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		lat = append(lat, float64(now-t)/1e6)
	}
	sort.Float64s(lat)
	if len(lat) == 0 {
		fmt.Println("lines 0")
		return
	}
	q := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("lines %d p50_ms %.1f p99_ms %.1f max_ms %.1f\n", len(lat), q(0.5), q(0.99), lat[len(lat)-1])
}
