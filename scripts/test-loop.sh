#!/usr/bin/env bash
# Runs `make test` N times in a row on a clean clone of this repository's HEAD, then once more
# with both cores kept busy (one `yes` per core, niced so the suite still gets its share), and
# prints one line per run: its number, the load, PASS or FAIL, the wall time and the failing tests.
# A flaky test shows up as a FAIL line; the full log of each run is kept.
#
#   scripts/test-loop.sh [N]      (default 10; root, as CI runs it; about 10 minutes per run)
set -euo pipefail
n=${1:-10}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/wiretop-loop.XXXXXX)
git clone -q "$repo" "$work/src"
echo "clean clone of $(git -C "$work/src" rev-parse --short HEAD) in $work/src; logs in $work"
fails=0
run() { # run NUMBER LABEL
  local log="$work/run-$1.log" t0=$SECONDS rc=0
  (cd "$work/src" && CI=true make test) >"$log" 2>&1 || rc=$?
  local failed
  failed=$(grep -E '^--- FAIL' "$log" | awk '{print $3}' | sort -u | tr '\n' ' ' || true)
  if [[ $rc -eq 0 ]]; then
    printf 'run %2s  %-9s PASS  %4ds\n' "$1" "$2" $((SECONDS - t0))
  else
    fails=$((fails + 1))
    printf 'run %2s  %-9s FAIL  %4ds  exit %d  %s(log %s)\n' "$1" "$2" $((SECONDS - t0)) "$rc" "$failed" "$log"
  fi
}
for i in $(seq 1 "$n"); do run "$i" idle; done
busy=()
for _ in $(seq 1 "$(nproc)"); do nice -n 5 yes >/dev/null & busy+=($!); done
trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT
run busy "cores-busy"
kill "${busy[@]}" 2>/dev/null || true
echo "$fails of $((n + 1)) runs failed"
[[ $fails -eq 0 ]]
