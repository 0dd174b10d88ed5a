#!/bin/sh
# svlog beside `tail | tai64nlocal` over the same log directories, in one
# run:
#   - last lines: `svlog -n 100` over SERVICES services whose log/main holds
#     ARCHIVES archives of 100 stamped lines and a current of 50 (so the
#     last 100 lines span current and one archive), against the shell way
#     (`cat @*.s current | tail -n 100` per service, one Debian tai64nlocal,
#     `sort` to merge by time; and `tail -n 100 current` alone, which misses
#     the archived half); median wall and CPU seconds of RUNS rounds;
#   - following: `svlog -f -n 0` over SERVICES services, and `tail -q -n 0
#     -F .../current | tai64nlocal`, while bench/svlogload writes RATE
#     stamped lines a second in total for SECONDS seconds, renaming each
#     service's current to an archive every 50 of its lines (as multilog
#     does); CPU used by the readers (from /proc, user+system), lines seen,
#     and how late they arrived (median, 99th percentile, maximum ms).
#
#   bench/svlog.sh [SERVICES] [ARCHIVES] [RUNS] [SECONDS] [RATE]
#   (default 100 20 5 10 1000)
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
services=${1:-100}
archives=${2:-20}
runs=${3:-5}
seconds=${4:-10}
rate=${5:-1000}
work=$(mktemp -d /tmp/svkit-bench-svlog.XXXXXX)
trap '[ -s "$work/p1" ] && kill $(cat "$work/p1") 2>/dev/null; rm -rf "$work"' EXIT INT TERM
CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/svlog ./bench/svlogload
B=$work/bin
L=/usr/bin/tai64nlocal
[ -x $L ] || { echo "bench/svlog.sh: needs Debian's daemontools ($L)" >&2; exit 111; }

# ---- last lines
"$B/svlogload" make "$work/sv" "$services" "$archives" 100
cat >"$work/shell-tail" <<EOS
#!/bin/sh
for d in $work/sv/*/log/main; do cat "\$d"/@*.s "\$d"/current | tail -n 100; done | $L | sort -s -k1,2
EOS
cat >"$work/shell-current" <<EOS
#!/bin/sh
for d in $work/sv/*/log/main; do tail -n 100 "\$d"/current; done | $L | sort -s -k1,2
EOS
chmod +x "$work/shell-tail" "$work/shell-current"
: >"$work/times"
r=0
while [ $r -lt "$runs" ]; do
  /usr/bin/time -f "%e %U %S" -o "$work/t" "$B/svlog" -n 100 "$work"/sv/* >"$work/out.svlog"
  echo "svlog $(cat "$work/t")" >>"$work/times"
  /usr/bin/time -f "%e %U %S" -o "$work/t" "$work/shell-tail" >"$work/out.shell"
  echo "shell $(cat "$work/t")" >>"$work/times"
  /usr/bin/time -f "%e %U %S" -o "$work/t" "$work/shell-current" >"$work/out.current"
  echo "current $(cat "$work/t")" >>"$work/times"
  r=$((r + 1))
done
echo "last lines: $services services, $archives archives of 100 lines + current of 50 each, -n 100; median of $runs runs, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "lines printed: svlog $(wc -l <"$work/out.svlog"), archives and current $(wc -l <"$work/out.shell"), current only $(wc -l <"$work/out.current")"
echo
echo "| reader | wall s | CPU s (user+sys) |"
echo "|---|---:|---:|"
awk '
  { n[$1]++; e[$1, n[$1]] = $2; c[$1, n[$1]] = $3 + $4 }
  function median(a, name, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = a[name, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END {
    printf "| `svlog -n 100` | %.3f | %.3f |\n", median(e, "svlog", n["svlog"]), median(c, "svlog", n["svlog"])
    printf "| `cat @*.s current \\| tail -n 100`, `tai64nlocal`, `sort` | %.3f | %.3f |\n", median(e, "shell", n["shell"]), median(c, "shell", n["shell"])
    printf "| `tail -n 100 current`, `tai64nlocal`, `sort` (no archives) | %.3f | %.3f |\n", median(e, "current", n["current"]), median(c, "current", n["current"])
  }' "$work/times"
echo

# ---- following
ticks() { # PID...: user+system clock ticks of the processes
  t=0
  for p in "$@"; do
    set -- $(cut -d')' -f2 /proc/"$p"/stat)
    t=$((t + ${12} + ${13}))
  done
  echo $t
}
hz=$(getconf CLK_TCK)
follow() { # NAME: run the reader named, feed the logs, report
  name=$1
  rm -rf "$work/f"
  "$B/svlogload" make "$work/f" "$services" 0 0
  rm -f "$work/p1" "$work/p2"
  case $name in
  svlog)
    sh -c "echo \$\$ >$work/p1; exec $B/svlog -f -n 0 $work/f/*" 2>"$work/err" |
      "$B/svlogload" latency >"$work/lat" &
    ;;
  tail)
    sh -c "echo \$\$ >$work/p1; exec tail -q -n 0 -F $work/f/*/log/main/current" 2>/dev/null |
      sh -c "echo \$\$ >$work/p2; exec $L" | "$B/svlogload" latency >"$work/lat" &
    ;;
  esac
  while [ ! -s "$work/p1" ] || { [ "$name" = tail ] && [ ! -s "$work/p2" ]; }; do sleep 0.1; done
  sleep 1
  pids=$(cat "$work/p1")
  [ "$name" = tail ] && pids="$pids $(cat "$work/p2")"
  t0=$(ticks $pids)
  "$B/svlogload" write "$work/f" "$services" "$rate" "$seconds" 50
  sleep 1
  t1=$(ticks $pids)
  kill $(cat "$work/p1")
  wait
  rm -f "$work/p1"
  echo "| $name | $(awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.3f | %.1f", t / hz, 100 * t / hz / (s + 1) }') | $(cat "$work/lat") |"
}
echo "following: $services services, $rate lines/s in total for $seconds s, a rotation per service every 50 lines; load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| reader | CPU s | CPU % | lines seen, lateness |"
echo "|---|---:|---:|---|"
follow svlog
follow tail
