#!/usr/bin/env bash
# bench-modbus: akciz's Modbus TCP client and server side by side with libmodbus, the reference C
# implementation, in one run on loopback. Every measurement reads 125 holding registers per request (the
# most one request may ask, Modbus Application Protocol v1.1b3 §6.3), one request at a time, for
# BENCH_SECONDS (default 5) each:
#
#   client           akciz client           -> libmodbus server
#   libmodbus_client libmodbus client       -> libmodbus server   (the reference for client)
#   server           libmodbus client       -> akciz server (over modbus.Memory)
#   libmodbus_server libmodbus client       -> libmodbus server   (measured again: the reference for server)
#
# Server and client are pinned to different cores with taskset (server on BENCH_SERVER_CPU, default 0,
# client on BENCH_CLIENT_CPU, default 1), so each side has one core of the two and a Go process runs with
# GOMAXPROCS=1 exactly like the single-threaded C peers. The measurements run in turns of about one
# second each, round after round, so that a shared machine's changing load falls on all of them alike.
# Extra lines report akciz's client with pipelining (BENCH_INFLIGHT requests in flight, default 8), which
# the libmodbus client cannot do.
#
# The last line is the summary the README and docs/modbus-conformance.md quote:
#   modbus reads/s client=N libmodbus_client=M server=S libmodbus_server=T ratio_client=N/M ratio_server=S/T
#
# Needs gcc, pkg-config and libmodbus-dev (Debian), and taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-5}
count=125
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
inflight=${BENCH_INFLIGHT:-8}
go=${GO:-go}
testdata=internal/modbus/conformance/testdata

for tool in gcc pkg-config taskset; do
  command -v "$tool" >/dev/null || { echo "bench-modbus: $tool not found (Debian: gcc, pkg-config, util-linux)" >&2; exit 1; }
done
pkg-config --exists libmodbus || { echo "bench-modbus: libmodbus not found: install the Debian package libmodbus-dev" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-modbus.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench-modbus: building the libmodbus peers and the akciz test binary in $work"
# shellcheck disable=SC2046 # pkg-config's flags are words
gcc -O2 -Wall -o "$work/libmodbus_server" "$testdata/libmodbus_server.c" $(pkg-config --cflags --libs libmodbus)
# shellcheck disable=SC2046
gcc -O2 -Wall -o "$work/libmodbus_client" "$testdata/libmodbus_client.c" $(pkg-config --cflags --libs libmodbus)
"$go" test -c -o "$work/conformance.test" ./internal/modbus/conformance

# free_port prints a loopback TCP port nothing listens on, below Linux's ephemeral range (32768 and up)
# so that no outgoing connection takes it meanwhile.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

# wait_port waits up to 10 s for a listener on port $1 while process $2 lives.
wait_port() {
  local i
  for i in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "bench-modbus: the server exited before listening on $1:" >&2; tail -5 "$work/servers.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "bench-modbus: nothing listens on port $1" >&2
  exit 1
}

# measure NAME CMD... runs one slice of a measurement (a client process printing "requests=R
# seconds=S reads_per_s=X cpu_us=C") and keeps its rate among NAME's, and its requests and processor time.
declare -A rates requests cpu
measure() {
  local name=$1 out x r c
  shift
  out=$("$@" 2>&1) || { printf 'bench-modbus: %s: the client failed:\n%s\n' "$name" "$out" >&2; exit 1; }
  x=$(sed -n 's/.*reads_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
  r=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
  c=$(sed -n 's/.*cpu_us=\([0-9]*\).*/\1/p' <<<"$out")
  [ -n "$x" ] && [ -n "$r" ] && [ -n "$c" ] || { printf 'bench-modbus: %s: no figure in:\n%s\n' "$name" "$out" >&2; exit 1; }
  rates[$name]="${rates[$name]:-} $x"
  requests[$name]=$(( ${requests[$name]:-0} + r ))
  cpu[$name]=$(( ${cpu[$name]:-0} + c ))
}

# rate NAME prints the median of NAME's slices: a slice that a burst of other work on the machine
# slowed down moves it less than it would move a mean.
rate() { tr ' ' '\n' <<<"${rates[$1]}" | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# per_request MICROSECONDS REQUESTS prints the processor time of one request in microseconds.
per_request() { awk -v c="$1" -v r="$2" 'BEGIN { printf "%.1f", c / r }'; }

# server_cpu_us PID prints the processor time, user and system, process PID has used, in microseconds.
server_cpu_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e6 / hz }' "/proc/$1/stat"
}

# libmodbus_client PORT runs the libmodbus client for one slice.
libmodbus_client() {
  taskset -c "$client_cpu" "$work/libmodbus_client" 127.0.0.1 "$1" "$count" "$slice" 0
}

# akciz_client PORT INFLIGHT runs akciz's client for one slice.
akciz_client() {
  AKCIZ_BENCH_MODBUS_ADDR=127.0.0.1:$1 AKCIZ_BENCH_MODBUS_SECONDS=$slice AKCIZ_BENCH_MODBUS_COUNT=$count \
    AKCIZ_BENCH_MODBUS_INFLIGHT=$2 GOMAXPROCS=1 \
    taskset -c "$client_cpu" "$work/conformance.test" -test.run '^TestBenchClient$' -test.count=1
}

# start_server PORT CMD... starts a server pinned to $server_cpu, waits for it to listen, and sets
# $server_pid.
start_server() {
  local port=$1
  shift
  taskset -c "$server_cpu" "$@" >>"$work/servers.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_port "$port" "$server_pid"
}

# Two servers of each kind: the first serves the measurements of the summary line only, so that its
# processor time per request is theirs; the second the pipelined extras.
ports=()
while [ "${#ports[@]}" -lt 4 ]; do
  p=$(free_port)
  case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
cport=${ports[0]} gport=${ports[1]} cport2=${ports[2]} gport2=${ports[3]}
start_server "$cport" "$work/libmodbus_server" --tcp "$cport"
cpid=$server_pid
start_server "$cport2" "$work/libmodbus_server" --tcp "$cport2"
for p in "$gport" "$gport2"; do
  start_server "$p" env AKCIZ_BENCH_MODBUS_LISTEN="127.0.0.1:$p" GOMAXPROCS=1 \
    "$work/conformance.test" -test.run '^TestBenchServer$' -test.timeout 0
  [ "$p" = "$gport" ] && gpid=$server_pid
done
# One short run with --check first: a figure is worth nothing if the answers were wrong.
"$work/libmodbus_client" 127.0.0.1 "$gport" "$count" 0.2 0 --check >/dev/null
"$work/libmodbus_client" 127.0.0.1 "$gport2" "$count" 0.2 0 --check >/dev/null
ccpu0=$(server_cpu_us "$cpid")
gcpu0=$(server_cpu_us "$gpid")

# The machine may be shared, and its load changes from second to second: rather than one long run of
# each measurement after the other, every round runs a half-second slice of each in turn, so that all
# of them see the same conditions, and each figure is the median of its slices. Each measurement
# totals $seconds seconds.
rounds=$(awk -v s="$seconds" 'BEGIN { r = int(2 * s + 0.5); print (r < 1 ? 1 : r) }')
slice=$(awk -v s="$seconds" -v r="$rounds" 'BEGIN { printf "%.3f", s / r }')
echo "bench-modbus: $count holding registers per request; $rounds rounds of a ${slice}s slice of each measurement; server on CPU $server_cpu, client on CPU $client_cpu"
for _ in $(seq "$rounds"); do
  measure client akciz_client "$cport" 1
  measure libmodbus_client libmodbus_client "$cport"
  measure server libmodbus_client "$gport"
  measure libmodbus_server libmodbus_client "$cport"
  measure client_pipelined_libmodbus akciz_client "$cport2" "$inflight"
  measure client_pipelined_akciz akciz_client "$gport2" "$inflight"
done
ccpu=$(( $(server_cpu_us "$cpid") - ccpu0 ))
gcpu=$(( $(server_cpu_us "$gpid") - gcpu0 ))

echo "akciz client     -> libmodbus server: $(rate client) reads/s"
echo "libmodbus client -> libmodbus server: $(rate libmodbus_client) reads/s"
echo "libmodbus client -> akciz server:     $(rate server) reads/s"
echo "libmodbus client -> libmodbus server: $(rate libmodbus_server) reads/s (again, the reference for the server)"
echo "extra: akciz client, $inflight in flight -> libmodbus server: $(rate client_pipelined_libmodbus) reads/s"
echo "extra: akciz client, $inflight in flight -> akciz server:     $(rate client_pipelined_akciz) reads/s"
c_requests=$(( requests[client] + requests[libmodbus_client] + requests[libmodbus_server] ))
echo "processor time per request (user+system, all slices): akciz client $(per_request "${cpu[client]}" "${requests[client]}") µs," \
  "libmodbus client $(per_request $(( cpu[libmodbus_client] + cpu[libmodbus_server] )) $(( requests[libmodbus_client] + requests[libmodbus_server] ))) µs;" \
  "akciz server $(per_request "$gcpu" "${requests[server]}") µs, libmodbus server $(per_request "$ccpu" "$c_requests") µs"
awk -v n="$(rate client)" -v m="$(rate libmodbus_client)" -v s="$(rate server)" -v t="$(rate libmodbus_server)" 'BEGIN {
  printf "modbus reads/s client=%d libmodbus_client=%d server=%d libmodbus_server=%d ratio_client=%.2f ratio_server=%.2f\n",
    n, m, s, t, n / m, s / t
}'
