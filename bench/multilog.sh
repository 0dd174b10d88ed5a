#!/bin/sh
# Throughput of svkit's multilog, tai64n and tai64nlocal side by side with
# daemontools 0.76, s6 and runit, and `cat > file` as the physical
# reference, in one run. Every contender reads the same input file through
# `dd bs=1M |`; the median of RUNS rounds (contenders interleaved in each
# round) is reported as MB/s, with the contender's own CPU seconds.
#
#   bench/multilog.sh [SIZE_MIB] [RUNS]      (default 128 MiB, 5 runs)
#
# With BEFORE=path/to/multilog, that binary (an earlier svkit multilog)
# runs in the same rounds as "before-multilog[-t]".
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
size=${1:-128}
runs=${2:-5}
work=$(mktemp -d /tmp/svkit-bench-multilog.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
CGO_ENABLED=0 go build -o "$work/bin/" ./cmd/multilog ./cmd/tai64n ./cmd/tai64nlocal
in=$work/in
# 100-byte lines: 99 printable bytes and a newline
awk 'BEGIN { l = sprintf("%099d", 0); gsub(/0/, "x", l); for (i = 0; i < 1048576; i++) print l }' >"$work/chunk"
: >"$in"
i=0
while [ $i -lt $((size / 100 + 1)) ]; do cat "$work/chunk" >>"$in"; i=$((i + 1)); done
head -c $((size * 1048576)) "$in" >"$work/in2" && mv "$work/in2" "$in"
/usr/bin/tai64n <"$in" >"$work/stamped"
bytes=$(wc -c <"$in")
sbytes=$(wc -c <"$work/stamped")
printf 's16777215\nn20\n' >"$work/svlogd.config"

# one NAME INPUT COMMAND...: time COMMAND reading INPUT through dd, in a
# fresh directory $work/d; appends "NAME elapsed user sys" to $work/times.
one() {
  name=$1 input=$2
  shift 2
  rm -rf "$work/d" "$work/out"
  mkdir "$work/d"
  cp "$work/svlogd.config" "$work/d/config"
  sync
  dd if="$input" bs=1M status=none | /usr/bin/time -f "%e %U %S" -o "$work/t" "$@"
  echo "$name $(cat "$work/t")" >>"$work/times"
}

B=$work/bin
D=$work/d
: >"$work/times"
r=0
while [ $r -lt "$runs" ]; do
  one "cat>file" "$in" sh -c "exec cat >$work/out"
  one "svkit-multilog-t" "$in" "$B/multilog" t s16777215 n20 "$D"
  one "0.76-multilog-t" "$in" /usr/bin/multilog t s16777215 n20 "$D"
  [ -n "${BEFORE:-}" ] && one "before-multilog-t" "$in" "$BEFORE" t s16777215 n20 "$D"
  one "s6-log-t" "$in" /usr/bin/s6-log t s16777215 n20 "$D"
  one "svlogd-tt" "$in" /usr/bin/svlogd -tt "$D"
  one "svkit-multilog" "$in" "$B/multilog" s16777215 n20 "$D"
  one "0.76-multilog" "$in" /usr/bin/multilog s16777215 n20 "$D"
  [ -n "${BEFORE:-}" ] && one "before-multilog" "$in" "$BEFORE" s16777215 n20 "$D"
  one "s6-log" "$in" /usr/bin/s6-log s16777215 n20 "$D"
  one "svlogd" "$in" /usr/bin/svlogd "$D"
  one "svkit-tai64n" "$in" sh -c "exec $B/tai64n >/dev/null"
  one "0.76-tai64n" "$in" sh -c "exec /usr/bin/tai64n >/dev/null"
  [ -x /usr/bin/s6-tai64n ] && one "s6-tai64n" "$in" sh -c "exec /usr/bin/s6-tai64n >/dev/null"
  one "svkit-tai64nlocal" "$work/stamped" sh -c "exec $B/tai64nlocal >/dev/null"
  one "0.76-tai64nlocal" "$work/stamped" sh -c "exec /usr/bin/tai64nlocal >/dev/null"
  [ -x /usr/bin/s6-tai64nlocal ] && one "s6-tai64nlocal" "$work/stamped" sh -c "exec /usr/bin/s6-tai64nlocal >/dev/null"
  r=$((r + 1))
done

echo "input: $size MiB of 100-byte lines ($bytes bytes; tai64nlocal reads $sbytes stamped bytes), median of $runs runs, $(nproc) CPUs"
echo
echo "| contender | MB/s (input) | elapsed s | CPU s (user+sys) |"
echo "|---|---:|---:|---:|"
awk -v bytes="$bytes" -v sbytes="$sbytes" '
  { n[$1]++; e[$1, n[$1]] = $2; c[$1, n[$1]] = $3 + $4; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  function median(a, name, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = a[name, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= k; i++) {
      name = order[i]
      me = median(e, name, n[name]); mc = median(c, name, n[name])
      if (me <= 0) me = 0.005
      b = (name ~ /tai64nlocal/) ? sbytes : bytes
      rate[name] = b / me / 1e6
      printf "| %s | %.0f | %.2f | %.2f |\n", name, rate[name], me, mc
    }
    print ""
    printf "ratios: multilog t svkit/0.76 %.1fx, svkit/cat %.0f%%; multilog svkit/0.76 %.1fx, svkit/cat %.0f%%; tai64n svkit/0.76 %.1fx; tai64nlocal svkit/0.76 %.1fx\n",
      rate["svkit-multilog-t"] / rate["0.76-multilog-t"], 100 * rate["svkit-multilog-t"] / rate["cat>file"],
      rate["svkit-multilog"] / rate["0.76-multilog"], 100 * rate["svkit-multilog"] / rate["cat>file"],
      rate["svkit-tai64n"] / rate["0.76-tai64n"], rate["svkit-tai64nlocal"] / rate["0.76-tai64nlocal"]
    if ("before-multilog-t" in rate)
      printf "before: multilog t %.0f%% of cat, multilog %.0f%% of cat; after/before: t %.2fx, plain %.2fx\n",
        100 * rate["before-multilog-t"] / rate["cat>file"], 100 * rate["before-multilog"] / rate["cat>file"],
        rate["svkit-multilog-t"] / rate["before-multilog-t"], rate["svkit-multilog"] / rate["before-multilog"]
  }' "$work/times"
