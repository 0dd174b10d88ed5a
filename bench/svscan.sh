#!/bin/sh
# bench/svscan.sh: svkit's svscan beside daemontools 0.76's svscan, s6-svscan
# and runsvdir, in one run, on N plain services (default 500):
#   up    ms from starting the scanner until every service's run has started
#   pss   total PSS (MB) of the scanner and its supervisors, all up, and of
#         the scanner alone
#   down  ms to shut the tree down, until no process is left in the
#         scanner's session (supervisors exit only after their service;
#         bench/sessionwait sleeps on pidfds meanwhile, where a loop of ps
#         would take a core from the tree):
#         svkit `svscan -o` + SIGTERM; daemontools `svc -dx` of every dir
#         (svscan, which would restart them, is killed first); s6
#         `s6-svscanctl -t`; runit SIGHUP to runsvdir (TERM to every runsv)
#   idle  the scanner's own wakeups (voluntary context switches of all its
#         threads) and CPU time per minute, all services up, over IDLE s
#   threads  the OS threads of the scanner and its supervisors, all up
# "svkit+dt-supervise" is svkit's svscan running daemontools' supervise: it
# isolates the scanner from the supervisor. "svkit-i" is `svscan -i`: every
# supervisor in the scanner's process (its wakeups are the whole tree's).
# "floor" is no supervisor at all: bench/launch forks every run and, on
# TERM, signals and reaps them; its bring-up and shut down are what the
# services themselves cost, which every scanner pays on top of its own work.
# Bring-up, PSS and shut-down are the medians of RUNS runs (default 3).
# Usage: bench/svscan.sh [N]   (env: RUNS, IDLE, OUT)
# Needs Debian's daemontools, s6 and runit (scripts/deps installs them).
. "$(dirname "$0")/lib.sh"
N=${1:-500}
RUNS=${RUNS:-3}
IDLE=${IDLE:-20}
IMPLS=${IMPLS:-svkit svkit-i svkit+dt-supervise daemontools s6 runit floor}
bench_build svscan svscan supervise
CGO_ENABLED=0 go build -o "$bin/" ./bench/sessionwait ./bench/launch
dtbin=$work/dtbin
mkdir -p "$dtbin"
ln -s /usr/bin/supervise "$dtbin/supervise"

# kids PID: live children of PID.
kids() { ps -eo pid=,ppid=,stat= | awk -v p="$1" '$2 == p && $3 !~ /^Z/ {print $1}'; }

pss_of() {
  for q in "$@"; do cat "/proc/$q/smaps_rollup" 2>/dev/null; done | awk '/^Pss:/ {n += $2} END {print n + 0}'
}

# wake_cpu PID: "switches ticks" of all threads of PID.
wake_cpu() {
  sw=$(cat /proc/$1/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}')
  t=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
  echo "$sw $t"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# make_tree DIR: N services whose run marks itself up, then sleeps.
make_tree() {
  rm -rf "$1"
  mkdir -p "$1"
  i=0
  while [ $i -lt "$N" ]; do
    i=$((i+1))
    d=$1/s$i
    mkdir "$d"
    printf '#!/bin/sh\n: > %s/s%d\nexec sleep 100000\n' "$up" "$i" > "$d/run"
    chmod 755 "$d/run"
  done
}

hz=$(getconf CLK_TCK)
results=$work/results
: > "$results"
for impl in $IMPLS; do
  for r in $(seq 1 "$RUNS"); do
    # A new tree per run, all removed at the end: on ext4 without a
    # journal every file created in the minute after a removal pays for
    # skipping each recently freed inode, which would charge the next run
    # for the last one's tree.
    tree=$work/$impl.$r
    sv=$tree/sv
    up=$tree/up
    rm -rf "$up"; mkdir -p "$up"
    make_tree "$sv"
    t0=$(now_ms)
    case $impl in
      svkit) PATH="$bin:$PATH" setsid "$bin/svscan" -o -k 60 "$sv" </dev/null >/dev/null 2>&1 & ;;
      svkit-i) PATH="$bin:$PATH" setsid "$bin/svscan" -o -i -k 60 "$sv" </dev/null >/dev/null 2>&1 & ;;
      svkit+dt-supervise) PATH="$dtbin:$PATH" setsid "$bin/svscan" -o -k 60 "$sv" </dev/null >/dev/null 2>&1 & ;;
      daemontools) setsid /usr/bin/svscan "$sv" </dev/null >/dev/null 2>&1 & ;;
      s6) setsid /usr/bin/s6-svscan "$sv" </dev/null >/dev/null 2>&1 & ;;
      runit) setsid /usr/bin/runsvdir "$sv" </dev/null >/dev/null 2>&1 & ;;
      floor) setsid "$bin/launch" "$sv" </dev/null >/dev/null 2>&1 & ;;
    esac
    scanner=$!
    while [ "$(ls "$up" | wc -l)" -lt "$N" ]; do sleep 0.01; done
    t1=$(now_ms)
    sleep 1
    # The supervision: the scanner and its supervise processes; under
    # svscan -i the scanner's children are the services themselves, and the
    # log pipe keeper where services have loggers (none here).
    sups=$(kids $scanner)
    [ "$impl" = svkit-i ] && sups=$(for k in $(kids $scanner); do
      if [ "$(cat /proc/$k/comm 2>/dev/null)" = logpipe-keeper ]; then echo $k; fi
    done)
    [ "$impl" = floor ] && sups=""  # its children are the services
    pss=$(pss_of $scanner $sups)
    spss=$(pss_of $scanner)
    threads=$(for q in $scanner $sups; do ls /proc/$q/task 2>/dev/null; done | wc -l)
    if [ "$r" = 1 ]; then
      a=$(wake_cpu $scanner)
      sleep "$IDLE"
      b=$(wake_cpu $scanner)
      set -- $a $b
      echo "$impl idle $(( ($3 - $1) * 60 / IDLE )) $(( ($4 - $2) * 1000 * 60 / hz / IDLE ))" >> "$results"
    fi
    t2=$(now_ms)
    case $impl in
      svkit*|floor) kill -TERM $scanner ;;
      daemontools) kill -TERM $scanner; /usr/bin/svc -dx "$sv"/* ;;
      s6) /usr/bin/s6-svscanctl -t "$sv" ;;
      runit) kill -HUP $scanner ;;
    esac
    "$bin/sessionwait" "$scanner"
    t3=$(now_ms)
    wait $scanner 2>/dev/null || true
    kill_under "$tree"
    echo "$impl run $((t1 - t0)) $pss $((t3 - t2)) $spss $threads" >> "$results"
  done
done

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
col() { awk -v i="$1" -v c="$2" '$1 == i && $2 == "run" {print $c}' "$results" | median; }
out=${OUT:-/dev/stdout}
{
  printf '%s services, median of %s runs (idle: %s s, scaled to a minute)\n\n' "$N" "$RUNS" "$IDLE"
  printf '| scanner | all up (ms) | PSS scanner+supervisors (MB) | PSS scanner (MB) | threads | shut down (ms) | scanner wakeups/min | scanner CPU ms/min |\n'
  printf '|---|---|---|---|---|---|---|---|\n'
  for impl in $IMPLS; do
    set -- $(awk -v i="$impl" '$1 == i && $2 == "idle" {print $3, $4}' "$results")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$impl" "$(col "$impl" 3)" "$(mb "$(col "$impl" 4)")" \
      "$(mb "$(col "$impl" 6)")" "$(col "$impl" 7)" "$(col "$impl" 5)" "$1" "$2"
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
  printf '\nratios to daemontools (up, shut down, PSS): svkit %s, %s, %s; svkit-i %s, %s, %s; svkit+dt-supervise %s, %s\n' \
    "$(ratio "$(col svkit 3)" "$(col daemontools 3)")" "$(ratio "$(col svkit 5)" "$(col daemontools 5)")" "$(ratio "$(col svkit 4)" "$(col daemontools 4)")" \
    "$(ratio "$(col svkit-i 3)" "$(col daemontools 3)")" "$(ratio "$(col svkit-i 5)" "$(col daemontools 5)")" "$(ratio "$(col svkit-i 4)" "$(col daemontools 4)")" \
    "$(ratio "$(col svkit+dt-supervise 3)" "$(col daemontools 3)")" "$(ratio "$(col svkit+dt-supervise 5)" "$(col daemontools 5)")"
  above() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "") print "-"; else print a - b}'; }
  printf 'above the floor (ms, up and shut down): svkit-i %s, %s; daemontools %s, %s; svkit %s, %s\n' \
    "$(above "$(col svkit-i 3)" "$(col floor 3)")" "$(above "$(col svkit-i 5)" "$(col floor 5)")" \
    "$(above "$(col daemontools 3)" "$(col floor 3)")" "$(above "$(col daemontools 5)" "$(col floor 5)")" \
    "$(above "$(col svkit 3)" "$(col floor 3)")" "$(above "$(col svkit 5)" "$(col floor 5)")"
} > "$out"
rm -rf "$work"
