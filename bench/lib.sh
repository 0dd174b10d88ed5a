# bench/lib.sh: the prologue the benchmark scripts share, sourced (POSIX sh)
# as `. "$(dirname "$0")/lib.sh"`: strict mode, the repository as working
# directory, Go on PATH, and the helpers below.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

# bench_build NAME PROGRAM...: a fresh work directory ($work, under /tmp,
# named after NAME) with svkit's PROGRAMs built statically into $work/bin
# ($bin).
bench_build() {
  work=$(mktemp -d "/tmp/svkit-bench-$1.XXXXXX")
  shift
  bin=$work/bin
  mkdir -p "$bin"
  pkgs=""
  for p in "$@"; do pkgs="$pkgs ./cmd/$p"; done
  CGO_ENABLED=0 go build -o "$bin/" $pkgs
}

# now_ms: the time of day in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# pids_under DIR: processes whose working directory is DIR or below.
pids_under() {
  find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$1" -o -lname "$1/*" \) 2>/dev/null | cut -d/ -f3
}

# kill_under DIR: SIGKILL, by pid, whatever still works under DIR (up to
# ten rounds, for processes started meanwhile).
kill_under() {
  for k in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(pids_under "$1")
    [ -n "$pids" ] || return 0
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
}
