#!/usr/bin/env bash
# The import benchmarks (make bench-imports): the SEPI barcode lists of one million packages
# (internal/sepi) and a 0.5 GB quarterly electricity table (internal/energy, чл. 24), each checked in a
# child process whose wall time and peak resident memory are reported; then the server's side of both
# (internal/submit: the list imported into a store that holds a million barcodes already, the table
# staged and committed), on SQLite and, when one is reachable, PostgreSQL. The line before the last sums
# the server's figures up; the last line the checks':
#   server-imports server_sqlite_sepi_1m_s=… server_sqlite_sepi_1m_peak_mb=… …
#   imports sepi_1m_s=T1 sepi_peak_mb=M1 energy_500mb_s=T2 energy_peak_mb=M2
# A figure that could not be measured is NA, never made up.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export AKCIZ_BENCH_IMPORTS=1

# figure KEY TEXT: the value of KEY=VALUE in TEXT, or NA.
figure() {
  local v
  v=$(grep -o "$1=[^ ]*" <<<"$2" | tail -n1 | cut -d= -f2)
  echo "${v:-NA}"
}

echo "df -h ${TMPDIR:-/tmp}:"; df -h "${TMPDIR:-/tmp}" | tail -n1

sepi_out=""
# (The list goes into a variable first: grep -q closing the pipe early would fail it under pipefail.)
sepi_tests=$($GO test -list '^TestBenchImport$' ./internal/sepi 2>/dev/null || true)
if grep -q '^TestBenchImport$' <<<"$sepi_tests"; then
  sepi_out=$($GO test -run '^TestBenchImport$' -count=1 -v -timeout 10m ./internal/sepi 2>&1) || echo "sepi benchmark failed:"
  echo "$sepi_out" | grep -E 'sepi_|FAIL|SKIP|ok ' || true
else
  echo "internal/sepi has no TestBenchImport: the SEPI figures are NA"
fi

energy_out=$($GO test -run '^TestBenchImport$' -count=1 -v -timeout 10m ./internal/energy 2>&1) || echo "energy benchmark failed:"
echo "$energy_out" | grep -E 'energy_|generated|child|FAIL|SKIP|ok ' || true

server_out=$($GO test -run '^TestBenchServerImport$' -count=1 -v -timeout 30m ./internal/submit 2>&1) || echo "server import benchmark failed:"
echo "$server_out" | grep -E 'server_|FAIL|SKIP|no PostgreSQL|ok ' || true
server_line="server-imports"
for k in sqlite_sepi_1m sqlite_energy_500mb postgres_sepi_1m postgres_energy_500mb; do
  server_line+=" server_${k}_s=$(figure "server_${k}_s" "$server_out") server_${k}_peak_mb=$(figure "server_${k}_peak_mb" "$server_out")"
done
echo "$server_line"

echo "imports sepi_1m_s=$(figure sepi_1m_s "$sepi_out") sepi_peak_mb=$(figure sepi_peak_mb "$sepi_out") energy_500mb_s=$(figure energy_500mb_s "$energy_out") energy_peak_mb=$(figure energy_peak_mb "$energy_out")"
