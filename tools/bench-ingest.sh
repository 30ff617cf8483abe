#!/usr/bin/env bash
# bench-ingest: akciz server's intake, end to end, beside the store's own bulk-insert rate, in one run.
# BENCH_INGEST_DEVICES simulated agents (default 50) each POST BENCH_INGEST_BATCHES signed batches (4) of
# BENCH_INGEST_RECORDS realistic reading records (500) at once, over loopback HTTPS (TLS 1.3, client
# certificates), with full verification (client certificate, signature, certificate, ownership, chain,
# sequence) and a receipt for each; into SQLite and then into PostgreSQL. Beside each, the raw
# BulkInsertRecords rate of the same rows, in the same chunks, into a fresh store of the same kind.
#
# PostgreSQL: AKCIZ_TEST_POSTGRES (a DSN the tests may create schemas in), else the machine's own server
# on 127.0.0.1:5432 (Debian's postgresql package); without one its figures are 0.
#
# The last line is the summary docs/server.md quotes:
#   ingest sqlite=N/s sqlite_raw=M/s postgres=P/s postgres_raw=Q/s p99_ms=L
# (records per second; p99_ms: the 99th percentile of one batch's POST, request to receipt, the worse of
# the two stores).
set -euo pipefail
cd "$(dirname "$0")/.."
go=${GO:-go}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ingest.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$go" test -c -o "$work/ingest.test" ./internal/ingest
out=$(AKCIZ_BENCH_INGEST=1 \
  AKCIZ_BENCH_INGEST_DEVICES=${BENCH_INGEST_DEVICES:-50} \
  AKCIZ_BENCH_INGEST_BATCHES=${BENCH_INGEST_BATCHES:-4} \
  AKCIZ_BENCH_INGEST_RECORDS=${BENCH_INGEST_RECORDS:-500} \
  "$work/ingest.test" -test.run '^TestBenchIngest$' -test.count=1 -test.timeout 10m 2>&1) || {
  printf '%s\n' "$out" >&2
  echo "bench-ingest: the benchmark failed" >&2
  exit 1
}
grep '^bench-ingest:' <<<"$out" || true
summary=$(grep '^ingest sqlite=' <<<"$out" | tail -1)
[ -n "$summary" ] || { printf '%s\n' "$out" >&2; echo "bench-ingest: no summary line" >&2; exit 1; }
echo "$summary"
