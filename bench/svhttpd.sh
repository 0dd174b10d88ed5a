#!/bin/bash
# bench/svhttpd.sh: svhttpd over N services (default 500) that svkit's svscan
# and supervise run:
#   list     GET /v1/services: latency (median and p90 of REQS requests,
#            curl's time_total), beside `svstat -j` of the same directories
#            (the shell's way to the same answer, process start included)
#   metrics  GET /metrics, the same
#   page     GET / (the page, rendered on the server) on the unix socket, and
#            GET / and GET /v1/services on the TCP listener (-l) over TLS
#            with a Bearer token (a self-signed certificate; curl makes a
#            new connection, so a TLS handshake, per request)
#   cpu      svhttpd's CPU time (utime+stime) per request
#   pss      svhttpd's PSS (KiB): idle, after the requests, during the events
#   events   CLIENTS event streams (default 50) while RATE state changes a
#            second (default 100) are made for SECS seconds (default 10), by
#            writing p and c into supervise/control of a different service
#            each time: the changes made, the events each client got (min
#            and max), svhttpd's CPU % meanwhile
# Usage: bench/svhttpd.sh [N]   (env: REQS, CLIENTS, RATE, SECS)
# bash, for $EPOCHREALTIME: the changes are paced without a fork per change.
. "$(dirname "$0")/lib.sh"
N=${1:-500}
REQS=${REQS:-50}
CLIENTS=${CLIENTS:-50}
RATE=${RATE:-100}
SECS=${SECS:-10}
bench_build svhttpd svscan supervise svhttpd svstat svc
sv=$work/sv
sock=$work/svhttpd.sock
mkdir -p "$sv"
export PATH="$bin:$PATH"

svscan_pid=""
svhttpd_pid=""
cleanup() {
  [ -z "$svhttpd_pid" ] || kill "$svhttpd_pid" 2>/dev/null || true
  [ -z "$svscan_pid" ] || kill "$svscan_pid" 2>/dev/null || true
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  for d in "$sv"/*; do svc -dx "$d" 2>/dev/null || true; done
  sleep 2
  find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$sv/*" 2>/dev/null | cut -d/ -f3 | xargs -r kill -9 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pss_of() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
ticks_of() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
# stats: median and p90 (ms) of the seconds on stdin.
stats() { sort -n | awk '{a[NR]=$1*1000} END {printf "%.2f %.2f", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'; }

i=0
while [ $i -lt "$N" ]; do
  i=$((i+1))
  mkdir "$sv/s$i"
  printf '#!/bin/sh\nexec sleep 100000\n' > "$sv/s$i/run"
  chmod 755 "$sv/s$i/run"
done
svscan "$sv" </dev/null >/dev/null 2>&1 &
svscan_pid=$!
n=0
for k in $(seq 1 600); do
  n=$(svstat "$sv"/* | grep -c ': up ' || true)
  [ "$n" -lt "$N" ] || break
  sleep 0.1
done
echo "services up: $n of $N"

mkdir -m 700 "$work/tokens"
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$token" | sha256sum | cut -d' ' -f1 > "$work/tokens/bench"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
port=$(( 20000 + $$ % 20000 ))
svhttpd -s "$sock" -c $((CLIENTS + 10)) -l 127.0.0.1:$port -a "$work/tokens" -C "$work/cert.pem" -K "$work/key.pem" \
  "$sv" 2>"$work/svhttpd.log" &
svhttpd_pid=$!
for k in $(seq 1 100); do curl -sf --unix-socket "$sock" http://x/healthz >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
echo "svhttpd idle: PSS $(pss_of $svhttpd_pid) KiB"

timed() { # PATH: REQS requests, one time_total per line
  for k in $(seq 1 "$REQS"); do
    curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$sock" "http://x$1"
  done
}
t0=$(ticks_of $svhttpd_pid)
list=$(timed /v1/services | stats)
t1=$(ticks_of $svhttpd_pid)
metrics=$(timed /metrics | stats)
t2=$(ticks_of $svhttpd_pid)
cli=$(for k in $(seq 1 "$REQS"); do
  s=$(date +%s%N); svstat -j "$sv"/* >/dev/null; e=$(date +%s%N)
  echo "$(( (e - s) / 1000 ))" | awk '{print $1/1e6}'
done | stats)
tls_timed() { # PATH over TLS with the token
  for k in $(seq 1 "$REQS"); do
    curl -s -o /dev/null -w '%{time_total}\n' --cacert "$work/cert.pem" --oauth2-bearer "$token" "https://127.0.0.1:$port$1"
  done
}
page=$(timed / | stats)
tls_page=$(tls_timed / | stats)
tls_list=$(tls_timed /v1/services | stats)
bytes_page=$(curl -s --unix-socket "$sock" http://x/ | wc -c)
bytes_list=$(curl -s --unix-socket "$sock" http://x/v1/services | wc -c)
bytes_metrics=$(curl -s --unix-socket "$sock" http://x/metrics | wc -c)
per_req() { echo "$1 $2 $hz $REQS" | awk '{printf "%.1f", ($2 - $1) * 1000 / $3 / $4}'; }
echo "GET /v1/services ($bytes_list bytes): median p90 ms: $list; CPU $(per_req "$t0" "$t1") ms/request"
echo "GET /metrics ($bytes_metrics bytes): median p90 ms: $metrics; CPU $(per_req "$t1" "$t2") ms/request"
echo "svstat -j of the $N dirs: median p90 ms: $cli"
echo "GET / ($bytes_page bytes), unix socket: median p90 ms: $page"
echo "GET / over TLS with a token: median p90 ms: $tls_page"
echo "GET /v1/services over TLS with a token: median p90 ms: $tls_list"
echo "svhttpd after the requests: PSS $(pss_of $svhttpd_pid) KiB"

c=0
while [ $c -lt "$CLIENTS" ]; do
  c=$((c+1))
  curl -sN --unix-socket "$sock" http://x/v1/events > "$work/ev$c" 2>/dev/null &
done
sleep 2
per=$((RATE / 10)) # changes per tenth of a second
total=$((RATE * SECS))
t0=$(ticks_of $svhttpd_pid)
us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
s0=$(us)
made=0
round=0
while [ $made -lt $total ]; do
  k=0
  while [ $k -lt $per ]; do
    j=$(( (made % N) + 1 ))
    if [ $(( (made / N) % 2 )) -eq 0 ]; then l=p; else l=c; fi
    printf $l > "$sv/s$j/supervise/control"
    made=$((made+1))
    k=$((k+1))
  done
  round=$((round+1))
  # Keep to RATE: sleep until this round's time.
  left=$(( s0 + round * 100000 - $(us) ))
  [ "$left" -le 0 ] || sleep "$((left / 1000000)).$(printf %06d $((left % 1000000)))"
done
s1=$(us)
sleep 1
t1=$(ticks_of $svhttpd_pid)
pss_ev=$(pss_of $svhttpd_pid)
secs=$(echo "$s0 $s1" | awk '{printf "%.2f", ($2-$1)/1e6}')
got=$(for c in $(seq 1 "$CLIENTS"); do grep -c '^event: state' "$work/ev$c" || true; done | sort -n | awk 'NR==1 {mn=$1} {mx=$1} END {print mn, mx}')
echo "events: $made changes in $secs s to $CLIENTS clients; state events per client (min max): $got; svhttpd CPU $(echo "$t0 $t1 $hz $secs" | awk '{printf "%.1f", ($2 - $1) / $3 / ($4 + 1) * 100}')% of one core; PSS $pss_ev KiB"
