#!/bin/sh
# bench/thousand.sh: 1000 services (N) under one svkit svscan -o, each
# logged through multilog unless LOG=0: brought up, flapped (every service
# killed at once with one svc -k, FLAPS times), left idle, shut down.
# Prints, per phase, the wall time, the CPU time (user+system, from
# /proc/PID/stat) of svscan plus every supervise plus every multilog, and
# the memory (PSS and RSS totals, MB) of the tree, and the CPU time of the
# whole machine over the phase (which includes the services and anything
# else running). Not part of the test run;
# the figures are in TESTING.md ("1000 services").
# Usage: bench/thousand.sh [N]   (env: LOG=0|1, FLAPS=3, IDLE=10)
. "$(dirname "$0")/lib.sh"
N=${1:-1000}
LOG=${LOG:-1}
FLAPS=${FLAPS:-3}
IDLE=${IDLE:-10}
bench_build thousand svscan supervise svc multilog
sv=$work/sv
mkdir -p "$sv"

# tree: svscan, supervise and multilog processes of the run (not services).
tree() {
  for p in $(pids_under "$work"); do
    c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    case "$c" in *svscan*|supervise*|multilog*) echo "$p" ;; esac
  done
}
# cpu_ms PIDS: CPU ms the pids have used, all threads (/proc/PID/task/*/
# schedstat, in ns: finer
# than the 10 ms ticks of /proc/PID/stat, which round 3000 processes to 0).
cpu_ms() {
  for p in "$@"; do cat "/proc/$p"/task/*/schedstat 2>/dev/null; done |
    awk '{n += $1} END {printf "%.0f\n", n / 1e6}'
}
# machine_ms: CPU ms used by the whole machine so far (all CPUs, /proc/stat).
machine_ms() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / {print int(($2+$3+$4+$7+$8) * 1000 / hz)}' /proc/stat
}
mem() {
  for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
    awk '/^Pss:/ {p += $2} /^Rss:/ {r += $2} END {printf "PSS %.0f MB, RSS %.0f MB", p/1024, r/1024}'
}
cleanup() {
  for k in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(pids_under "$work")
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null || true
    sleep 0.2
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

i=1
while [ $i -le $N ]; do
  d=$work/stage/s$i
  mkdir -p "$d"
  printf '#!/bin/sh\nexec sleep 100000\n' >"$d/run"
  chmod +x "$d/run"
  if [ "$LOG" = 1 ]; then
    mkdir -p "$d/log"
    printf '#!/bin/sh\nexec multilog s4096 n2 ./main\n' >"$d/log/run"
    chmod +x "$d/log/run"
  fi
  i=$((i + 1))
done

# wait_up [OLDFILE]: wait until every service's status shows a pid, and,
# given OLDFILE, a pid other than the one OLDFILE lists for that service
# (per service: pids are reused across services when they wrap). Then write
# "dir pid" lines to $work/pids. (python3 reads the 1000 status files in one
# process, so the polling costs little CPU.)
wait_up() {
  python3 - "$sv" "$work/pids" "${1:-}" <<'PY'
import os, struct, sys, time
sv, out, oldf = sys.argv[1], sys.argv[2], sys.argv[3]
old = dict(l.split() for l in open(oldf)) if oldf else {}
dirs = sorted(os.listdir(sv))
while True:
    pids = {}
    for d in dirs:
        try:
            b = open(os.path.join(sv, d, "supervise", "status"), "rb").read()
            pids[d] = str(struct.unpack("<I", b[12:16])[0])
        except OSError:
            pids[d] = "0"
    if all(p != "0" and p != old.get(d) for d, p in pids.items()):
        break
    time.sleep(0.05)
open(out, "w").write("".join("%s %s\n" % (d, p) for d, p in pids.items()))
PY
}

echo "N=$N LOG=$LOG on $(nproc) CPUs, $(uname -r)"
t0=$(now_ms)
m0=$(machine_ms)
mv "$work"/stage/* "$sv"/
PATH="$bin:$PATH" setsid "$bin/svscan" -o "$sv" </dev/null >"$work/out" 2>&1 &
scanner=$!
wait_up
t1=$(now_ms)
sleep 2
T=$(tree)
echo "up: $((t1 - t0)) ms; processes $(echo $T | wc -w) (svscan+supervise+multilog); tree CPU $(cpu_ms $T) ms (svscan $(cpu_ms $scanner) ms), machine CPU $(( $(machine_ms) - m0 )) ms; $(mem $T); svscan alone: $(mem $scanner)"

f=1
while [ $f -le $FLAPS ]; do
  cp "$work/pids" "$work/old"
  c0=$(cpu_ms $T)
  m0=$(machine_ms)
  t0=$(now_ms)
  "$bin/svc" -k "$sv"/*
  wait_up "$work/old"
  t1=$(now_ms)
  echo "flap $f: all $N killed and restarted in $((t1 - t0)) ms; tree CPU $(( $(cpu_ms $T) - c0 )) ms, machine CPU $(( $(machine_ms) - m0 )) ms"
  f=$((f + 1))
  sleep 2
done

c0=$(cpu_ms $T)
sleep "$IDLE"
echo "idle ${IDLE}s: tree CPU $(( $(cpu_ms $T) - c0 )) ms; $(mem $T)"
echo "per service: $(mem $(for p in $T; do case "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" in supervise*) echo $p ;; esac; done | head -1)) for one supervise"

m0=$(machine_ms)
t0=$(now_ms)
kill -TERM $scanner
while [ -n "$(pids_under "$work")" ]; do sleep 0.1; done
t1=$(now_ms)
echo "down (TERM to svscan -o): $((t1 - t0)) ms until no process is left; machine CPU $(( $(machine_ms) - m0 )) ms"
