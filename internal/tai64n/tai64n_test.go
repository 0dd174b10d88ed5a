package tai64n

import (
	"bytes"
	"fmt"
	"math/rand"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"svkit/internal/localtime"
	"svkit/internal/testenv"
	"svkit/pkg/tai64"
)

var fixed = time.Unix(1700000000, 987654321)

func TestTAI64N(t *testing.T) {
	stamp := tai64.FromTime(fixed).String() + " "
	if stamp != "@400000006553f10a3ade6964 " {
		t.Fatalf("stamp %q", stamp)
	}
	cases := map[string]string{
		"":              "",
		"a\n":           stamp + "a\n",
		"a\n\nb":        stamp + "a\n" + stamp + "\n" + stamp + "b",
		"x\ny\n":        stamp + "x\n" + stamp + "y\n",
		"\n":            stamp + "\n",
		"no newline":    stamp + "no newline",
		"@already\nz\n": stamp + "@already\n" + stamp + "z\n",
	}
	for in, want := range cases {
		for _, max := range []int{1, 3, 1 << 20} {
			var out bytes.Buffer
			r := &testenv.ChunkReader{Data: []byte(in), Rand: rand.New(rand.NewSource(1)), Max: max}
			if code := TAI64NClock(r, &out, func() time.Time { return fixed }); code != 0 || out.String() != want {
				t.Errorf("tai64n %q (reads of %d): %d %q, want %q", in, max, code, out.String(), want)
			}
		}
	}
}

var stampRE = regexp.MustCompile(`@[0-9a-f]{24} `)

func TestTAI64NCompat(t *testing.T) {
	real := testenv.Debian(t, "tai64n")
	ours := testenv.Prog(t, "tai64n")
	in := "one\n\ntwo three\n" + strings.Repeat("long", 3000) + "\nlast"
	before := tai64.FromTime(time.Now().Add(-time.Second))
	o, oe, oc := testenv.Run(t, "", in, ours)
	r, re, rc := testenv.Run(t, "", in, real)
	after := tai64.FromTime(time.Now().Add(time.Second))
	if stampRE.ReplaceAllString(o, "S") != stampRE.ReplaceAllString(r, "S") || oe != re || oc != rc {
		t.Errorf("ours %.100q %q %d, 0.76 %.100q %q %d", o, oe, oc, r, re, rc)
	}
	for _, m := range stampRE.FindAllString(o, -1) {
		l, _ := tai64.ParseHex([]byte(m[1:25]))
		if l.Sec < before.Sec || l.Sec > after.Sec || l.Nano%1000 != 500 {
			t.Errorf("stamp %s is not now (%v..%v) at µs resolution", m, before, after)
		}
	}
}

// labels returns lines with labels over many years, DST changes
// included, and lines that are not labels.
func labels() string {
	rnd := rand.New(rand.NewSource(1))
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		s := rnd.Int63n(1<<34) - 1<<33
		if i%2 == 0 {
			s = rnd.Int63n(4e9)
		}
		fmt.Fprintf(&b, "@%016x%08x line %d\n", tai64.Base+uint64(s), rnd.Intn(1e9), i)
	}
	for _, y := range []int{1969, 1975, 1987, 1999, 2006, 2007, 2024, 2037, 2050} {
		for ts := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); ts < time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); ts += 1800*7 + 13 {
			fmt.Fprintf(&b, "@%016x%08x e\n", tai64.Base+uint64(ts), 5)
		}
	}
	b.WriteString("plain line\n\n@4000000037c219bf2ef02e94 x\n@3fffffffffffffff00000000 y\n@400000000000000000000000 z\nmid @4000000037c219bf2ef02e94\n@4000000037c219bf2ef02e94\n")
	return b.String()
}

func TestLocalCompat(t *testing.T) {
	real := testenv.Debian(t, "tai64nlocal")
	ours := testenv.Prog(t, "tai64nlocal")
	in := labels()
	tzs := []string{"ABC-3", "XYZ3:30", "<+0530>-5:30", "EST5EDT,M3.2.0,M11.1.0", "AAA-10BBB,M10.1.0,M4.1.0/3",
		"CET-1CEST,J60/2,J300/25", "QQQ5RRR4,100/1,250", "EST5EDT", "XX-2YY", "US/Pacific", ":/etc/localtime",
		"", "UTC", "Europe/London", "Australia/Sydney", ":America/New_York", "/usr/share/zoneinfo/Asia/Kolkata", "No/Such_Zone", "garbage"}
	run := func(prog string, env []string) (string, int) {
		cmd := exec.Command(prog)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(in)
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		code := 0
		if err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		return out.String(), code
	}
	for _, tz := range tzs {
		env := []string{"TZ=" + tz}
		o, oc := run(ours, env)
		r, rc := run(real, env)
		if o != r || oc != rc {
			ol, rl := strings.Split(o, "\n"), strings.Split(r, "\n")
			for i := range ol {
				if i >= len(rl) || ol[i] != rl[i] {
					t.Errorf("TZ=%q line %d: ours %q, 0.76 %q", tz, i, ol[i], rl[min(i, len(rl)-1)])
					break
				}
			}
		}
	}
	o, _ := run(ours, nil)
	r, _ := run(real, nil)
	if o != r {
		t.Errorf("TZ unset: outputs differ")
	}
	// the SPEC's check
	out, _, _ := testenv.Run(t, "", "@4000000037c219bf2ef02e94\n", "env", "TZ=US/Pacific", ours)
	if out != "1999-08-23 21:04:05.787492500\n" {
		t.Errorf("US/Pacific: %q", out)
	}
}

// TestLocalMalformed: 0.76 crashes on labels localtime cannot convert
// and drops a label cut off by EOF; svkit passes both through.
func TestLocalMalformed(t *testing.T) {
	real := testenv.Debian(t, "tai64nlocal")
	ours := testenv.Prog(t, "tai64nlocal")
	for _, in := range []string{"@xyz\n", "@\n", "@4000\n", "@ffffffffffffffffffffffff x\n", "@4000000037C219BF2EF02E94 upper\n", "@4000000037c219bf2ef02e94ab long\n"} {
		o, _, oc := testenv.Run(t, "", "before\n"+in+"after\n", ours)
		if oc != 0 || o != "before\n"+in+"after\n" {
			t.Errorf("ours on %q: %d %q", in, oc, o)
		}
		cmd := exec.Command(real)
		cmd.Stdin = strings.NewReader(in)
		cmd.Run()
		if st := cmd.ProcessState; st.ExitCode() != -1 {
			t.Logf("0.76 on %q: %v (expected a crash)", in, st)
		}
	}
	o, _, _ := testenv.Run(t, "", "@4000000037c219bf", ours)
	if o != "@4000000037c219bf" {
		t.Errorf("label at EOF: %q", o)
	}
}

func TestLocalChunks(t *testing.T) {
	in := labels() + "@xyz\n@4000000037c219bf2ef02e94"
	var whole bytes.Buffer
	z := localtime.LoadTZ("EST5EDT,M3.2.0,M11.1.0", true)
	LocalFilter(strings.NewReader(in), &whole, z)
	for _, max := range []int{1, 2, 7, 100} {
		var out bytes.Buffer
		LocalFilter(&testenv.ChunkReader{Data: []byte(in), Rand: rand.New(rand.NewSource(int64(max))), Max: max}, &out, z)
		if out.String() != whole.String() {
			t.Errorf("reads of up to %d bytes change the output", max)
		}
	}
}

func FuzzLocalFilter(f *testing.F) {
	f.Add([]byte("@4000000037c219bf2ef02e94 x\nplain\n@xyz\n@"), uint8(3))
	f.Add([]byte("@ffffffffffffffffffffffff\n@3fffffffffffffff00000000 y"), uint8(1))
	z := localtime.LoadTZ("CET-1CEST,M3.5.0,M10.5.0/3", true)
	f.Fuzz(func(t *testing.T, in []byte, max uint8) {
		var whole, chunked bytes.Buffer
		if LocalFilter(bytes.NewReader(in), &whole, z) != 0 {
			t.Fatal("exit code")
		}
		LocalFilter(&testenv.ChunkReader{Data: in, Rand: rand.New(rand.NewSource(1)), Max: int(max) + 1}, &chunked, z)
		if whole.String() != chunked.String() {
			t.Fatalf("chunking changes the output")
		}
		if bytes.Count(whole.Bytes(), []byte("\n")) != bytes.Count(in, []byte("\n")) {
			t.Fatalf("line count changed")
		}
		il, ol := bytes.Split(in, []byte("\n")), bytes.Split(whole.Bytes(), []byte("\n"))
		for i := range il {
			if len(il[i]) == 0 || il[i][0] != '@' {
				if !bytes.Equal(il[i], ol[i]) {
					t.Fatalf("line %q became %q", il[i], ol[i])
				}
			}
		}
	})
}

func FuzzTAI64N(f *testing.F) {
	f.Add([]byte("a\nb\n\nc"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, max uint8) {
		var out bytes.Buffer
		clock := func() time.Time { return fixed }
		TAI64NClock(&testenv.ChunkReader{Data: in, Rand: rand.New(rand.NewSource(1)), Max: int(max) + 1}, &out, clock)
		stamp := tai64.FromTime(fixed).String() + " "
		var want []byte
		for i, l := range bytes.SplitAfter(in, []byte("\n")) {
			if len(l) > 0 || i == 0 && len(in) > 0 {
				want = append(append(want, stamp...), l...)
			}
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("got %q, want %q", out.Bytes(), want)
		}
	})
}
