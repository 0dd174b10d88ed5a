#!/bin/sh
# Benchmark for the supervision core, side by side in one run:
# svkit's supervise, daemontools 0.76's supervise, runit's runsv and
# s6-supervise, N idle services each (default 50).
#   - PSS and RSS per supervisor (median, /proc/PID/smaps_rollup);
#   - context switches per supervisor over an idle period (all threads),
#     scaled to one minute;
#   - the svc -d -> down -> svc -u -> up round trip (bench/roundtrip),
#     with a pause after each start and back to back.
#   - the same round trip behind a burst of BURST (default 16384) bytes of
#     "c" queued in supervise/control: how long a command waits behind many.
# Usage: [BURST=bytes] bench/supervise.sh [N] [IDLE_SECONDS] [ROUNDS]
# Needs Debian's daemontools, runit and s6 (scripts/deps installs them).
set -eu
cd "$(dirname "$0")/.."
N=${1:-50}
IDLE=${2:-60}
ROUNDS=${3:-30}
W=$(mktemp -d /tmp/svkit-bench-supervise.XXXXXX)
BIN=$W/bin
CGO_ENABLED=0 go build -o "$BIN/" ./cmd/supervise ./cmd/svc ./cmd/svscan ./bench/roundtrip

PIDS=""
cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
  pkill -9 -f "sleep 99999$$" 2>/dev/null || true
  sleep 0.2
  # The cgroups of svkit's services (svkit-DEV-INO, hex), once empty:
  # their supervisors were killed and could not remove them.
  for d in "$W"/svkit*/s*; do
    [ -d "$d" ] || continue
    name=$(printf 'svkit-%x-%x' "$(stat -c %d "$d")" "$(stat -c %i "$d")")
    for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
      own=$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup)
      rmdir "$root$own/$name" 2>/dev/null || true
    done
  done
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

start() { # impl command
  impl=$1; shift
  mkdir -p "$W/$impl"
  i=0
  while [ $i -lt "$N" ]; do
    d="$W/$impl/s$i"
    mkdir -p "$d"
    printf '#!/bin/sh\nexec sleep 99999%s\n' "$$" > "$d/run"
    chmod +x "$d/run"
    "$@" "$d" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    echo $! >> "$W/$impl.pids"
    i=$((i + 1))
  done
}

start svkit "$BIN/supervise"
start daemontools /usr/bin/supervise
start runit /usr/bin/runsv
start s6 /usr/bin/s6-supervise
# svkit's supervisor hosted by svscan -i: one process for N services.
mkdir -p "$W/svkit-i"
for i in $(seq 0 $((N - 1))); do
  mkdir "$W/svkit-i/s$i"
  printf '#!/bin/sh\nexec sleep 99999%s\n' "$$" > "$W/svkit-i/s$i/run"
  chmod +x "$W/svkit-i/s$i/run"
done
PATH="$BIN:$PATH" setsid "$BIN/svscan" -i "$W/svkit-i" >/dev/null 2>&1 &
PIDS="$PIDS $!"
echo $! > "$W/svkit-i.pids"

# Wait until every service runs: 5*N sleeps.
want=$((5 * N))
i=0
while [ "$(pgrep -c -f "sleep 99999$$" || true)" -lt "$want" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 2

median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "-"; exit} m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%g\n", m}'; }
ctxt() { # pid -> total context switches of all threads
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s+0}'
}

echo "# supervise benchmark: $N idle services per implementation, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-12s %10s %10s\n' impl PSS_KiB RSS_KiB
for impl in svkit daemontools runit s6; do
  pss=$(for p in $(cat "$W/$impl.pids"); do awk '/^Pss:/{print $2}' /proc/"$p"/smaps_rollup; done | median)
  rss=$(for p in $(cat "$W/$impl.pids"); do awk '/^Rss:/{print $2}' /proc/"$p"/smaps_rollup; done | median)
  printf '%-12s %10s %10s\n' "$impl" "$pss" "$rss"
done
p=$(cat "$W/svkit-i.pids")
printf '%-12s %10s %10s   (svscan -i with %s services, per service)\n' svkit-i \
  "$(awk -v n="$N" '/^Pss:/{printf "%d", $2 / n}' /proc/"$p"/smaps_rollup)" \
  "$(awk -v n="$N" '/^Rss:/{printf "%d", $2 / n}' /proc/"$p"/smaps_rollup)" "$N"

for impl in svkit daemontools runit s6 svkit-i; do
  for p in $(cat "$W/$impl.pids"); do echo "$p $(ctxt "$p")"; done > "$W/$impl.ctxt0"
done
sleep "$IDLE"
echo
printf '%-12s %22s\n' impl ctxt_switches_per_min
for impl in svkit daemontools runit s6; do
  m=$(while read -r p c0; do echo $(( ($(ctxt "$p") - c0) * 60 / IDLE )); done < "$W/$impl.ctxt0" | median)
  printf '%-12s %22s\n' "$impl" "$m"
done
m=$(while read -r p c0; do echo $(( ($(ctxt "$p") - c0) * 60 / IDLE )); done < "$W/svkit-i.ctxt0")
printf '%-12s %22s   (the whole svscan -i, %s services)\n' svkit-i "$m" "$N"

echo
echo "round trip svc -d -> down -> svc -u -> up ($ROUNDS each), ms"
rt() { # label svc dir [flags]
  label=$1; svc=$2; dir=$3; shift 3
  printf '%-34s ' "$label"
  "$BIN/roundtrip" -n "$ROUNDS" "$@" "$svc" "$dir" | tr '\n' ' '
  echo
}
rt "svkit supervise + svkit svc" "$BIN/svc" "$W/svkit/s0"
rt "svkit supervise + 0.76 svc" /usr/bin/svc "$W/svkit/s1"
rt "svkit svscan -i + 0.76 svc" /usr/bin/svc "$W/svkit-i/s1"
rt "daemontools supervise + 0.76 svc" /usr/bin/svc "$W/daemontools/s0"
rt "runit runsv + 0.76 svc" /usr/bin/svc "$W/runit/s0"
rt "s6-supervise + 0.76 svc" /usr/bin/svc "$W/s6/s0" -s6

BURST=${BURST:-16384}
echo
echo "round trip behind a burst: $BURST bytes of c written into supervise/control first ($ROUNDS each, pauses), ms"
rt "svkit supervise" "$BIN/svc" "$W/svkit/s2" -mode pause -burst "$BURST"
rt "daemontools supervise" /usr/bin/svc "$W/daemontools/s1" -mode pause -burst "$BURST"
rt "runit runsv" /usr/bin/svc "$W/runit/s1" -mode pause -burst "$BURST"
rt "s6-supervise" /usr/bin/svc "$W/s6/s1" -mode pause -burst "$BURST" -s6
