#!/usr/bin/env bash
# Measures the history store (docs/history.md): the per-interval write and the bucket
# close at 200 processes, 200 hosts and 200 ports (Go benchmarks), the size of a generated
# year at default retention written through the recorder's code (scripts/histyear), and
# the time wiretop history takes to answer on it (hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/wiretop-bench-history}
rm -rf "$out" && mkdir -p "$out"
go build -o "$out/wiretop" .
echo "== go test -bench (history)"
go test -run '^$' -bench 'BenchmarkRecord|BenchmarkBaseline' -benchmem -benchtime 600x ./history
echo "== a generated year"
go run ./scripts/histyear -db "$out/year.db" "$@"
ls -l "$out"/year.db*
echo "== wiretop history on it"
hyperfine -N --warmup 3 --runs 20 \
  "$out/wiretop history --db $out/year.db --days" \
  "$out/wiretop history --db $out/year.db --months" \
  "$out/wiretop history --db $out/year.db --hours" \
  "$out/wiretop history --db $out/year.db --processes --days --json" \
  "$out/wiretop history --db $out/year.db --95th -i eth0"
