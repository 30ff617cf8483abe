#!/usr/bin/env bash
# bench-agent: what `akciz agent` costs with 1,000 tags read every second (issue #4). The simulator
# (`akciz sim`) serves 100 meters × 10 registers on 10 Modbus units behind two gateways; the agent (the real
# command, a separate process) reads them per a generated automation_config.xml, detects transactions,
# makes 100 readings a second and journals them (fsync after every poll). Its server URL points at a
# loopback port where nothing listens, so delivery only retries: acquisition is what is measured.
#
# The files come from internal/agent/benchagent_test.go (TestBenchAgentFiles), which also computes the
# planner's requests per scan (agent.PlanConfig) and, independently, the least number possible
# (agent.MinimumRequests, dynamic programming).
#
# After a warm-up (until the agent's first status file, at most 20 s) the agent runs BENCH_AGENT_SECONDS
# (default 60). Measured on the agent's process alone (not the simulator):
#   rss_mb   peak resident set: the larger of VmHWM (the kernel's high-water mark, start-up included) and
#            the highest VmRSS sampled every 0.5 s, in MiB;
#   cpu_pct  utime+stime from /proc/PID/stat over the measured wall time, in percent of one core (200 is
#            both cores of a two-core box).
# The run fails if the agent read nothing: every one of the 100 points must have a recent reading with all
# 10 values, and the records appended must be at least 80 % of 100 a second.
#
# The last line is the summary docs/agent.md quotes:
#   agent tags=1000 rss_mb=N cpu_pct=C requests_per_scan=A minimum=B
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_AGENT_SECONDS:-60}
go=${GO:-go}
bin=bin/akciz
points=100
tags=1000

for tool in jq; do
  command -v "$tool" >/dev/null || { echo "bench-agent: $tool not found (Debian: $tool)" >&2; exit 1; }
done
[[ -r /proc/self/stat ]] || { echo "bench-agent: needs Linux /proc" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-agent.XXXXXX")
sim_pid="" agent_pid=""
cleanup() {
  local p
  for p in $agent_pid $sim_pid; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [[ -n ${BENCH_AGENT_KEEP:-} ]]; then echo "bench-agent: files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# free_port prints a loopback TCP port nothing listens on, below Linux's ephemeral range.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

echo "bench-agent: building $bin"
"$go" build -o "$bin" ./cmd/akciz

modbus_port=$(free_port)
server_port=$(free_port)
while [[ $server_port == "$modbus_port" ]]; do server_port=$(free_port); done

echo "bench-agent: generating the site in $work (internal/agent TestBenchAgentFiles)"
AKCIZ_BENCH_AGENT_DIR=$work AKCIZ_BENCH_AGENT_MODBUS=127.0.0.1:$modbus_port \
  AKCIZ_BENCH_AGENT_SERVER=https://127.0.0.1:$server_port \
  "$go" test -count=1 -run '^TestBenchAgentFiles$' ./internal/agent >"$work/gen.log" 2>&1 ||
  { cat "$work/gen.log" >&2; echo "bench-agent: generating the files failed" >&2; exit 1; }
[[ -s $work/plan.txt ]] || { cat "$work/gen.log" >&2; echo "bench-agent: the generator wrote no plan.txt (skipped?)" >&2; exit 1; }
plan=$(cat "$work/plan.txt")
echo "bench-agent: plan $plan"

"$bin" sim --lang en --tcp "127.0.0.1:$modbus_port" "$work/scenario.xml" >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$modbus_port") 2>/dev/null; then break; fi
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.log" >&2; echo "bench-agent: the simulator exited" >&2; exit 1; }
  sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$modbus_port") 2>/dev/null || { echo "bench-agent: the simulator does not listen on $modbus_port" >&2; exit 1; }

"$bin" agent --lang en --config "$work/automation_config.xml" --settings "$work/agent.conf" >"$work/agent.out" 2>"$work/agent.log" &
agent_pid=$!
status=$work/state/status.json
for _ in $(seq 200); do
  [[ -s $status ]] && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log" >&2; echo "bench-agent: the agent exited at start" >&2; exit 1; }
  sleep 0.1
done
[[ -s $status ]] || { tail -20 "$work/agent.log" >&2; echo "bench-agent: the agent wrote no status in 20 s" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$agent_pid/status"; }

appended0=$(jq -r '.appended' "$status")
cpu0=$(cpu_ticks)
t0=$(date +%s.%N)
peak_rss=0
end=$(awk -v t="$t0" -v s="$seconds" 'BEGIN {printf "%.3f", t + s}')
echo "bench-agent: measuring the agent (pid $agent_pid) for $seconds s"
while :; do
  kill -0 "$agent_pid" 2>/dev/null || { tail -20 "$work/agent.log" >&2; echo "bench-agent: the agent died during the run" >&2; exit 1; }
  rss=$(kib VmRSS 2>/dev/null || true)
  rss=${rss:-0}
  ((rss > peak_rss)) && peak_rss=$rss
  now=$(date +%s.%N)
  awk -v n="$now" -v e="$end" 'BEGIN {exit !(n >= e)}' && break
  sleep 0.5
done
cpu1=$(cpu_ticks)
t1=$(date +%s.%N)
hwm=$(kib VmHWM)
appended1=$(jq -r '.appended' "$status")

kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=""
kill -TERM "$sim_pid"
wait "$sim_pid" || true
sim_pid=""
((rc == 0)) || { tail -20 "$work/agent.log" >&2; echo "bench-agent: the agent exited $rc on SIGTERM" >&2; exit 1; }

# Did it read? Every point has a reading with all ten values, taken in the last seconds of the run.
jq -e '.running == false' "$status" >/dev/null || { echo "bench-agent: the final status says the agent still runs" >&2; exit 1; }
read -r npoints nfull newest oldest < <(jq -r '[.readings[]] as $r |
  "\($r | length) \([$r[] | select(.values | length == 10)] | length) \([$r[].time] | max // "none") \([$r[].time] | min // "none")"' "$status")
records=$((appended1 - appended0))
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
journal_bytes=$(du -sb "$work/journal" | awk '{print $1}')
read -r rate cpu_pct rss_mb < <(awk -v r="$records" -v w="$wall" -v c0="$cpu0" -v c1="$cpu1" -v hz="$ticks" \
  -v h="$hwm" -v p="$peak_rss" 'BEGIN {m = h > p ? h : p; printf "%.1f %.1f %.1f\n", r / w, 100 * (c1 - c0) / hz / w, m / 1024}')
echo "bench-agent: wall=${wall}s records=$records records_per_s=$rate journal_bytes=$journal_bytes journal_records=$(jq -r '.journal.Last' "$status") points_read=$npoints points_with_10_values=$nfull last_readings=$oldest..$newest"
echo "bench-agent: rss VmHWM=${hwm}KiB sampled_peak=${peak_rss}KiB; cpu $((cpu1 - cpu0)) ticks of 1/$ticks s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench-agent: agent log: $(grep -c 'level=ERROR' "$work/agent.log" || true) errors, $(grep -c 'part=poll' "$work/agent.log" || true) lines from polling"
if ((npoints != points || nfull != points)); then
  echo "bench-agent: FAILED: $npoints points have a reading, $nfull with all 10 values (want $points): the agent did not read every tag" >&2
  grep 'part=poll' "$work/agent.log" | tail -5 >&2 || true
  exit 1
fi
stop_s=${t1%.*}
newest_s=$(date -d "$newest" +%s 2>/dev/null || echo 0)
if ((stop_s - newest_s > 5)); then
  echo "bench-agent: FAILED: the newest reading ($newest) is more than 5 s older than the end of the run" >&2
  exit 1
fi
if ! awk -v r="$records" -v w="$wall" -v n="$points" 'BEGIN {exit !(r >= 0.8 * n * w)}'; then
  echo "bench-agent: FAILED: $records records in ${wall}s, fewer than 80 % of $points readings a second" >&2
  exit 1
fi
echo "agent tags=$tags rss_mb=$rss_mb cpu_pct=$cpu_pct $plan"
