#!/usr/bin/env bash
# The main job until `akciz demo` exists: the fuel-depot simulator serves Modbus TCP, and akciz reads the
# meters of loading bay 1 the way the agent will — the non-resettable volume totalizer (uint32, ABCD), the
# flow rate (float32, CDAB) and the calibration change indicator of чл. 30(16) — every 2 s for 20 s.
# Simulated time runs 60 times faster, so a loading transaction starts and ends while you watch.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${AKCIZ:-bin/akciz}
addr=${DEMO_ADDR:-127.0.0.1:5020}
seconds=${DEMO_SECONDS:-20}
"$bin" sim --tcp "$addr" --speed 60 fuel-depot &
sim=$!
trap 'kill -INT $sim 2>/dev/null; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  "$bin" modbus read --tcp "$addr" --addr 40001 >/dev/null 2>&1 && break
  sleep 0.2
done
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  echo "── $(date +%T)"
  for bay in 0 20; do  # loading bays 1 and 2: 20 registers apart
    "$bin" modbus read --tcp "$addr" --unit 1 --addr $((40001 + bay)) --count 1 --type uint32 --order ABCD
    "$bin" modbus read --tcp "$addr" --unit 1 --addr $((40007 + bay)) --count 1 --type float32 --order CDAB
    "$bin" modbus read --tcp "$addr" --unit 1 --addr $((40014 + bay)) --count 1 --type uint16
  done
  sleep 2
done
