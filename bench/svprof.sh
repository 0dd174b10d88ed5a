#!/bin/bash
# Benchmark of svprof's cost, beside perf record -g, in one run.
# A CPU-bound C loop (built with frame pointers) runs as a service under
# svkit's supervise. In rounds, each phase lasts SECONDS:
#   base        nothing attached
#   svprof99    svprof -F 99       perf99    perf record -g -F 99 -p PID
#   svprof999   svprof -F 999      perf999   perf record -g -F 999 -p PID
# For each phase it reports the loop's throughput per CPU second of the
# loop (iterations / (user+sys time of the loop), so the machine's other
# load counts less), its drop against the base phase just before it in the
# same round (median over rounds), and the profiler's own CPU time
# (user+sys) per second of sampling.
# Usage: bench/svprof.sh [SECONDS] [ROUNDS]     (default 4 10)
# Needs root, gcc and Debian's linux-perf (scripts/deps installs it).
set -eu
cd "$(dirname "$0")/.."
T=${1:-4}
R=${2:-10}
W=$(mktemp -d /tmp/svkit-bench-svprof.XXXXXX)
CGO_ENABLED=0 go build -o "$W/bin/" ./cmd/supervise ./cmd/svc ./cmd/svprof

cat > "$W/spin.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <time.h>
volatile unsigned long sink;
static volatile sig_atomic_t report;
static void onusr1(int s) { (void)s; report = 1; }
__attribute__((noinline)) void work(void) { for (unsigned i = 0; i < 100000; i++) sink += i * 7; }
__attribute__((noinline)) void outer(void) { work(); }
int main(void)
{
	unsigned long n = 0;
	struct timespec ts;
	signal(SIGUSR1, onusr1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		outer();
		n++;
		if (report) {
			report = 0;
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
			printf("%lu %.6f\n", n, ts.tv_sec + ts.tv_nsec / 1e9);
		}
	}
}
EOF
gcc -O1 -fno-omit-frame-pointer -o "$W/spin" "$W/spin.c"

SUP=""
cleanup() {
  [ -n "$SUP" ] && kill "$SUP" 2>/dev/null
  [ -f "$W/pid" ] && kill -9 "$(cat "$W/pid")" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/svc"
printf '#!/bin/sh\nexec %s/spin > %s/counts\n' "$W" "$W" > "$W/svc/run"
chmod +x "$W/svc/run"
"$W/bin/supervise" "$W/svc" >/dev/null 2>&1 &
SUP=$!
PID=""
for _ in $(seq 100); do PID=$(pgrep -P $SUP spin || true); [ -n "$PID" ] && break; sleep 0.1; done
[ -n "$PID" ] || { echo "bench/svprof.sh: the loop did not start" >&2; exit 111; }
sleep 1
echo "$PID" > "$W/pid"

mark() { # -> "iterations cpu_seconds" of the loop now
  local before
  before=$(wc -l < "$W/counts")
  kill -USR1 "$PID"
  while [ "$(wc -l < "$W/counts")" -le "$before" ]; do sleep 0.01; done
  tail -n 1 "$W/counts"
}

# phase NAME COMMAND...: runs COMMAND for the phase (or sleeps), prints
# "NAME rate profiler_cpu_per_second".
phase() {
  local name=$1 a b cpu
  shift
  a=$(mark)
  if [ $# -gt 0 ]; then
    /usr/bin/time -o "$W/time" -f '%U %S' "$@" >/dev/null 2>&1
    cpu=$(tail -n 1 "$W/time")
  else
    sleep "$T"
    cpu="0 0"
  fi
  b=$(mark)
  echo "$name $a $b $cpu" | awk -v t="$T" '{ printf "%s %.1f %.4f\n", $1, ($4-$2)/($5-$3), ($6+$7)/t }'
}

echo "svprof benchmark: $T s phases, $R rounds, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
for r in $(seq "$R"); do
  phase base
  phase svprof99 "$W/bin/svprof" -o "$W/out.pb.gz" -F 99 -d "$T" "$W/svc"
  phase perf99 perf record -q -g -F 99 -p "$PID" -o "$W/perf.data" -- sleep "$T"
  phase base
  phase svprof999 "$W/bin/svprof" -o "$W/out.pb.gz" -F 999 -d "$T" "$W/svc"
  phase perf999 perf record -q -g -F 999 -p "$PID" -o "$W/perf.data" -- sleep "$T"
done > "$W/results"

# Throughput of each phase relative to the base phase just before it in
# the same round (the machine's other load drifts slowly); medians over
# the rounds.
awk '
  $1 == "base" { base = $2 }
  { ratio[$1] = ratio[$1] " " $2 / base; rate[$1] = rate[$1] " " $2; cpu[$1] = cpu[$1] " " $3 }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-10s %14s %10s %18s\n", "phase", "iter/cpu-s", "overhead", "profiler cpu/s"
    n = split("base svprof99 perf99 svprof999 perf999", order, " ")
    for (i = 1; i <= n; i++) {
      p = order[i]
      printf "%-10s %14.1f %9.2f%% %17.2f%%\n", p, median(rate[p]), (1 - median(ratio[p])) * 100, median(cpu[p]) * 100
    }
  }' "$W/results"
