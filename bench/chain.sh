#!/bin/sh
# Wall time of the usual chain-loader chain, side by side in one run:
#   svkit        softlimit -m 100000000 setuidgid nobody envdir ./env true
#   daemontools  the same with Debian's 0.76 programs
#   runit        chpst -m 100000000 -u nobody -e ./env true
#   s6           s6-softlimit -m 100000000 s6-setuidgid nobody s6-envdir ./env true
#   true         /bin/true alone
# Reports the median wall time of many runs of each and the ratio to
# daemontools, plus the median CPU time (user + system, per round), which a
# shared machine's load disturbs less.
# Needs root (setuidgid nobody). Uses hyperfine (installed from Debian if
# missing and possible), else a plain loop timing batches.
#
# `bench/chain.sh floor` instead measures the smallest softlimit -m, -a and
# -d values under which svkit's long-running Go programs (multilog,
# supervise) still start and work, by bisection to 1 MB, using 0.76's
# softlimit to set the limits.
# Usage: bench/chain.sh [runs]   (default 2000)
#        bench/chain.sh floor
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
if [ "${1:-}" = floor ]; then
  work=$(mktemp -d /tmp/svkit-bench-floor.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/multilog ./cmd/supervise
  cd "$work"
  mkdir svc
  printf '#!/bin/sh\nexec sleep 30\n' >svc/run
  chmod +x svc/run
  multilog_works() { # opt value
    rm -rf log
    echo hello | /usr/bin/softlimit "$1" "$2" "$work/bin/multilog" ./log 2>/dev/null &&
      grep -q hello log/current 2>/dev/null
  }
  supervise_works() { # opt value: supervise starts run and reports it up
    rm -rf svc/supervise
    /usr/bin/softlimit "$1" "$2" "$work/bin/supervise" svc 2>/dev/null &
    sp=$!
    ok=1 i=0
    while [ $i -lt 100 ]; do
      kill -0 $sp 2>/dev/null || break
      st=$(/usr/bin/svstat svc 2>/dev/null || true)
      case "$st" in *"up (pid "*) ok=0; break ;; esac
      sleep 0.02
      i=$((i + 1))
    done
    if [ $ok = 0 ]; then
      rp=${st#*pid }
      rp=${rp%%)*}
      sleep 0.2
      kill -0 $sp 2>/dev/null || ok=1
      kill "$rp" 2>/dev/null || true
    fi
    kill $sp 2>/dev/null || true
    wait $sp 2>/dev/null || true
    return $ok
  }
  for prog in multilog supervise; do
    for opt in -m -a -d; do
      lo=1000000 hi=4000000000
      "${prog}_works" $opt $hi || { echo "$prog $opt: does not work even at $hi" >&2; continue; }
      while [ $((hi - lo)) -gt 1000000 ]; do
        mid=$(((lo + hi) / 2))
        if "${prog}_works" $opt $mid; then hi=$mid; else lo=$mid; fi
      done
      echo "$prog softlimit $opt: works at $hi, not at $lo"
    done
  done
  exit 0
fi
runs=${1:-2000}
[ "$(id -u)" = 0 ] || { echo "bench/chain.sh: needs root (setuidgid nobody)" >&2; exit 1; }
for p in softlimit setuidgid envdir; do
  [ -x /usr/bin/$p ] || { echo "bench/chain.sh: Debian's daemontools is missing (scripts/deps)" >&2; exit 1; }
done
if ! command -v hyperfine >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi

work=$(mktemp -d /tmp/svkit-bench-chain.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/softlimit ./cmd/setuidgid ./cmd/envdir
mkdir "$work/env"
echo value >"$work/env/A"
: >"$work/env/B"
cd "$work"

svkit="env PATH=$work/bin:/usr/bin:/bin $work/bin/softlimit -m 100000000 setuidgid nobody envdir ./env true"
dt="env PATH=/usr/bin:/bin /usr/bin/softlimit -m 100000000 setuidgid nobody envdir ./env true"
runit="env PATH=/usr/bin:/bin /usr/bin/chpst -m 100000000 -u nobody -e ./env true"
s6="env PATH=/usr/bin:/bin /usr/bin/s6-softlimit -m 100000000 s6-setuidgid nobody s6-envdir ./env true"
bare="env PATH=/usr/bin:/bin true"

# Every command must work before it is timed.
for c in "$svkit" "$dt" "$runit" "$s6" "$bare"; do
  $c || { echo "bench/chain.sh: failed: $c" >&2; exit 1; }
done

if command -v hyperfine >/dev/null 2>&1; then
  # Rounds of every command in turn, so that the load of a shared machine
  # falls on all of them alike; the medians are over all runs.
  rounds=40
  per=$((runs / rounds))
  [ "$per" -ge 10 ] || per=10
  r=0
  while [ $r -lt $rounds ]; do
    hyperfine -N --warmup 5 --runs "$per" --export-json "$work/h$r.json" \
      -n svkit "$svkit" -n daemontools "$dt" -n runit-chpst "$runit" -n s6 "$s6" -n true "$bare" \
      >"$work/h.out" 2>&1 || { cat "$work/h.out" >&2; exit 1; }
    r=$((r + 1))
  done
  python3 - "$work"/h*.json <<'PY'
import json, statistics, sys
times, cpu = {}, {}
for f in sys.argv[1:]:
    for x in json.load(open(f))["results"]:
        times.setdefault(x["command"], []).extend(x["times"])
        cpu.setdefault(x["command"], []).append(x["user"] + x["system"])
med = {n: statistics.median(t) for n, t in times.items()}
base = med["daemontools"]
cbase = statistics.median(cpu["daemontools"])
print("%-12s %6s %10s %10s %8s %8s %9s" % ("chain", "runs", "median ms", "mean ms", "ratio", "cpu ms", "cpu ratio"))
for n in ["svkit", "daemontools", "runit-chpst", "s6", "true"]:
    t = times[n]
    c = statistics.median(cpu[n])
    print("%-12s %6d %10.3f %10.3f %8.2f %8.3f %9.2f" % (n, len(t), med[n] * 1e3, statistics.mean(t) * 1e3, med[n] / base, c * 1e3, c / cbase))
PY
else
  # Fallback: medians over batches of 50 runs, interleaved.
  batches=$((runs / 50))
  for n in svkit dt runit s6 bare; do : >"$work/$n.t"; done
  i=0
  while [ $i -lt "$batches" ]; do
    for n in svkit dt runit s6 bare; do
      eval c=\$$n
      t0=$(date +%s%N); j=0
      while [ $j -lt 50 ]; do $c; j=$((j + 1)); done
      t1=$(date +%s%N)
      echo $(((t1 - t0) / 50)) >>"$work/$n.t"
    done
    i=$((i + 1))
  done
  med() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  base=$(med "$work/dt.t")
  printf '%-12s %10s %8s\n' chain "median ms" ratio
  for n in svkit dt runit s6 bare; do
    m=$(med "$work/$n.t")
    awk -v n=$n -v m="$m" -v b="$base" 'BEGIN { printf "%-12s %10.3f %8.2f\n", n, m / 1e6, m / b }'
  done
fi
