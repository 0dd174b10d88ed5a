#!/bin/sh
# bench/needs.sh: boot of a dependency DAG, svkit's needs/ beside runit's
# idiom, in one run. N services (default 200) in DEPTH levels (default 10);
# each service of a level needs one service of the level below and up to
# two more of any lower level (the same pseudo-random DAG for both); each
# becomes ready READY ms (default 100) after its run starts.
#   svkit  svscan -o; each service has needs/ links and notification-fd,
#          its run says ready on fd 5 after READY ms
#   runit  runsvdir; each run starts with `sv -w 60 start DEP... || exit 1`
#          (runit's idiom: runsv restarts run a second later until the
#          dependencies are up), and a ./check script that sv start runs
#          until the service says ready
#   flat   svkit without needs/: the same services, all started at once:
#          the start cost of the tree
# Reported: ms from starting the scanner until every service is ready, the
# median of RUNS runs (default 3), and the critical-path lower bound:
# flat's time plus (DEPTH - 1) x READY.
# Usage: bench/needs.sh [N]   (env: RUNS, DEPTH, READY)
# Needs runit (scripts/deps installs it).
. "$(dirname "$0")/lib.sh"
N=${1:-200}
RUNS=${RUNS:-3}
DEPTH=${DEPTH:-10}
READY=${READY:-100}
bench_build needs svscan supervise
delay=$(awk -v r="$READY" 'BEGIN { printf "%.3f", r / 1000 }')

# The DAG: "i j" lines, service i needs service j.
awk -v n="$N" -v d="$DEPTH" 'BEGIN {
  srand(19)
  for (i = 0; i < n; i++) { lv[i] = int(i * d / n); if (!(lv[i] in first)) first[lv[i]] = i; last[lv[i]] = i }
  for (i = 0; i < n; i++) {
    if (lv[i] == 0) continue
    l = lv[i] - 1; j = first[l] + int(rand() * (last[l] - first[l] + 1)); print i, j; seen[i, j] = 1
    k = int(rand() * 3)
    while (k-- > 0) { j = int(rand() * first[lv[i]]); if (!((i, j) in seen)) { print i, j; seen[i, j] = 1 } }
  }
}' > "$work/dag"

name() { printf 's%03d' "$1"; }

# make IMPL DIR: the scan directory for IMPL.
make_tree() {
  impl=$1 sv=$2 marks=$3
  mkdir -p "$sv" "$marks"
  i=0
  while [ $i -lt "$N" ]; do
    s=$sv/$(name $i)
    mkdir -p "$s"
    case $impl in
      svkit|flat)
        printf '#!/bin/sh\nsleep %s\ntouch %s/%s\necho >&5\nexec sleep 1000\n' "$delay" "$marks" "$(name $i)" > "$s/run"
        echo 5 > "$s/notification-fd"
        ;;
      runit)
        deps=$(awk -v i=$i '$1 == i { printf " ../s%03d", $2 }' "$work/dag")
        {
          echo '#!/bin/sh'
          echo 'rm -f ready'
          [ -z "$deps" ] || echo "sv -w 60 start$deps >/dev/null || exit 1"
          echo "sleep $delay"
          echo "touch ready $marks/$(name $i)"
          echo 'exec sleep 1000'
        } > "$s/run"
        printf '#!/bin/sh\ntest -e ready\n' > "$s/check"
        chmod +x "$s/check"
        ;;
    esac
    chmod +x "$s/run"
    i=$((i + 1))
  done
  if [ "$impl" = svkit ]; then
    while read -r i j; do
      mkdir -p "$sv/$(name $i)/needs"
      ln -s "../../$(name $j)" "$sv/$(name $i)/needs/$(name $j)"
    done < "$work/dag"
  fi
}

# boot IMPL: ms until all N services are ready.
boot() {
  impl=$1
  root=$work/$impl
  rm -rf "$root"
  make_tree "$impl" "$root/sv" "$root/marks"
  t0=$(now_ms)
  case $impl in
    svkit|flat) PATH="$bin:$PATH" setsid "$bin/svscan" -o -k 60 "$root/sv" </dev/null >/dev/null 2>&1 & ;;
    runit) setsid /usr/bin/runsvdir "$root/sv" </dev/null >/dev/null 2>&1 & ;;
  esac
  scanner=$!
  while [ "$(ls "$root/marks" | wc -l)" -lt "$N" ]; do
    sleep 0.01
    if [ $(( $(now_ms) - t0 )) -gt 300000 ]; then echo "$impl: not all ready after 300 s" >&2; break; fi
  done
  ms=$(( $(ls --full-time --time-style=+%s%N "$root/marks" | awk 'NR > 1 { t = substr($6, 1, 13); if (t > m) m = t } END { print m }') - t0 ))
  case $impl in
    svkit|flat) kill -TERM $scanner ;;
    runit) kill -HUP $scanner ;;
  esac
  sleep 1
  kill_under "$root"
  kill -9 $scanner 2>/dev/null || true
  wait $scanner 2>/dev/null || true
  echo "$ms"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "N=$N DEPTH=$DEPTH READY=${READY}ms RUNS=$RUNS $(date -u +%F) load $(cut -d' ' -f1-3 /proc/loadavg)"
for impl in flat svkit runit; do
  r=1
  : > "$work/$impl.ms"
  while [ $r -le "$RUNS" ]; do
    boot "$impl" >> "$work/$impl.ms"
    r=$((r + 1))
  done
  eval "m_$impl=$(median < "$work/$impl.ms")"
  echo "$impl: $(tr '\n' ' ' < "$work/$impl.ms")ms"
done
bound=$((m_flat + (DEPTH - 1) * READY))
awk -v f="$m_flat" -v s="$m_svkit" -v r="$m_runit" -v b="$bound" 'BEGIN {
  printf "lower bound %d ms (flat %d ms + critical path)\n", b, f
  printf "svkit needs/  %6d ms  %.2fx bound\n", s, s / b
  printf "runit idiom   %6d ms  %.2fx bound  %.2fx svkit\n", r, r / b, r / s
}'
rm -rf "$work"
