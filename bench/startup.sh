#!/bin/sh
# Start-up cost of the one-shot clients, side by side in one run: svkit's
# svc -u, svstat and svok against Debian's 0.76 programs on one service
# (supervised by svkit's supervise), an empty Go program and /bin/true;
# svkit's clients also with GODEBUG turning the runtime's container-aware
# GOMAXPROCS back on (what the //go:debug lines of their mains turn off),
# and so the empty program.
# Rounds alternate the commands, so that the machine's load falls on all
# alike. Reports per command the median over the rounds of the wall time
# per run and of the CPU time (user + system) per run, and the ratio to the
# matching 0.76 program.
# Usage: bench/startup.sh [rounds] [runs per round]   (default 15 200)
. "$(dirname "$0")/lib.sh"
rounds=${1:-15}
runs=${2:-200}
for p in svc svstat svok; do
  [ -x /usr/bin/$p ] || { echo "bench/startup.sh: Debian's daemontools is missing (scripts/deps)" >&2; exit 1; }
done
bench_build startup svc svstat svok supervise
sup=""
cleanup() {
  if [ -n "$sup" ]; then
    # Down and exit; the service by its pid if supervise did not get to it.
    run=$(/usr/bin/svstat "$work/svc" 2>/dev/null | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
    /usr/bin/svc -dx "$work/svc" 2>/dev/null || true
    i=0
    while kill -0 "$sup" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
    kill "$sup" 2>/dev/null || true
    wait "$sup" 2>/dev/null || true
    [ -z "$run" ] || kill "$run" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/empty" "$work/svc"
printf 'package main\n\nfunc main() {}\n' >"$work/empty/main.go"
(cd "$work/empty" && printf 'module empty\n\ngo 1.26\n' >go.mod && CGO_ENABLED=0 go build -o "$work/bin/empty" .)
printf '#!/bin/sh\nexec sleep 100000\n' >"$work/svc/run"
chmod +x "$work/svc/run"
"$work/bin/supervise" "$work/svc" &
sup=$!
i=0
until /usr/bin/svok "$work/svc" 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 500 ] || { echo "bench/startup.sh: supervise did not start" >&2; exit 1; }
  sleep 0.01
done

S="$work/svc"
B="$work/bin"
# name|GODEBUG|command (word-split; no spaces in paths: mktemp's are safe)
on=containermaxprocs=1,updatemaxprocs=1
cmds="0.76 svc -u||/usr/bin/svc -u $S
svkit svc -u||$B/svc -u $S
svkit svc -u, container GOMAXPROCS|$on|$B/svc -u $S
0.76 svstat||/usr/bin/svstat $S
svkit svstat||$B/svstat $S
svkit svstat, container GOMAXPROCS|$on|$B/svstat $S
0.76 svok||/usr/bin/svok $S
svkit svok||$B/svok $S
svkit svok, container GOMAXPROCS|$on|$B/svok $S
empty Go program||$B/empty
empty Go program, container GOMAXPROCS|$on|$B/empty
/bin/true||/bin/true"

# batch GODEBUG CMD...: wall ns and CPU ns of $runs runs.
batch() {
  godebug=$1
  shift
  t0=$(date +%s%N)
  (
    [ -z "$godebug" ] || export GODEBUG="$godebug"
    n=0
    while [ $n -lt "$runs" ]; do "$@" >/dev/null 2>&1 || true; n=$((n + 1)); done
    times
  ) >"$work/times"
  t1=$(date +%s%N)
  # times prints the shell's own times, then its children's: "0m1.234s 0m0.567s".
  cpu=$(sed -n 2p "$work/times" | awk '{ split($1, u, "m"); split($2, s, "m"); sub("s", "", u[2]); sub("s", "", s[2]); printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1e9 }')
  echo "$((t1 - t0)) $cpu"
}

: >"$work/results"
r=0
while [ $r -lt "$rounds" ]; do
  echo "$cmds" | while IFS='|' read -r name godebug cmd; do
    # shellcheck disable=SC2086
    set -- $cmd
    echo "$name|$(batch "$godebug" "$@")" >>"$work/results"
  done
  r=$((r + 1))
done

echo "bench/startup.sh $rounds $runs, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
echo "| command | wall ms per run | ratio to 0.76 | CPU ms per run | ratio to 0.76 |"
echo "|---|---|---|---|---|"
echo "$cmds" | while IFS='|' read -r name godebug cmd; do
  grep -F "$name|" "$work/results" | awk -F'|' -v name="$name" -v runs="$runs" '$1 == name { split($2, a, " "); print a[1] / runs / 1e6, a[2] / runs / 1e6 }' >"$work/one"
  wall=$(cut -d' ' -f1 "$work/one" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  cpu=$(cut -d' ' -f2 "$work/one" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo "$name|$wall|$cpu"
done >"$work/medians"
while IFS='|' read -r name wall cpu; do
  base=""
  case "$name" in
    *"svc -u"*) base="0.76 svc -u" ;;
    *svstat*) base="0.76 svstat" ;;
    *svok*) base="0.76 svok" ;;
  esac
  if [ -n "$base" ]; then
    bw=$(grep -F "$base|" "$work/medians" | cut -d'|' -f2)
    bc=$(grep -F "$base|" "$work/medians" | cut -d'|' -f3)
    printf '| %s | %.2f | %.2f | %.2f | %.2f |\n' "$name" "$wall" "$(echo "$wall $bw" | awk '{ print $1 / $2 }')" "$cpu" "$(echo "$cpu $bc" | awk '{ print $1 / $2 }')"
  else
    printf '| %s | %.2f | | %.2f | |\n' "$name" "$wall" "$cpu"
  fi
done <"$work/medians"
