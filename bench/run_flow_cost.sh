#!/usr/bin/env bash
# What the order-flow rule costs (issue 5): `sluice simulate` unpaced (--speed 0)
# into sluice (Beats + syslog over TCP in, the file output to /dev/null) in four
# configurations, alternating, RUNS times each: no rules, the flow rule alone
# (rules/shop/orders.yml), the shop's rule pack without it, the whole pack.
# Prints sluice's CPU seconds (utime + stime from /proc, whole process) and
# events per CPU-second per run, then the medians.
#
#   bench/run_flow_cost.sh                     # 3 runs each, a 24 h quiet day (~1.3M events)
#   RUNS=5 CONFIGS="no-rules flow-only" bench/run_flow_cost.sh --duration 6h --compression 0
#   SLUICE=/tmp/sluice-before bench/run_flow_cost.sh   # another sluice binary (A/B)
#
# Extra options are passed to `sluice simulate` (default: rules/scenarios/quiet-day.yml, seed 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
SLUICE=${SLUICE:-$BUILD/sluice}   # the binary measured (the simulator is always $BUILD/sluice)
RUNS=${RUNS:-3}
SIM_ARGS=("$@")
WORK=$(mktemp -d)
cleanup() {
  local rc=$?
  if ((rc != 0)) && [[ -s $WORK/sluice.err ]]; then
    echo "run_flow_cost.sh: failed; sluice's stderr ends with:" >&2
    tail -n 20 "$WORK/sluice.err" >&2
  fi
  [[ -n ${SLUICE_PID:-} ]] && kill "$SLUICE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/lib.sh
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / hz}' "/proc/$1/stat"; }

# One run: $1 = label, rest = rule files.
run() {
  local label=$1; shift
  local beats syslog http
  beats=$(free_port); syslog=$(free_port); http=$(free_port)
  rm -rf "$WORK/data"
  {
    echo "data_dir: $WORK/data"
    echo "http: {listen: 127.0.0.1:$http}"
    echo "log_level: warn"
    echo "inputs:"
    echo "  - {type: beats, listen: 127.0.0.1:$beats}"
    echo "  - {type: syslog, protocol: tcp, listen: 127.0.0.1:$syslog}"
    echo "outputs:"
    echo "  - {type: file, path: /dev/null}"
    if (($#)); then
      echo "rules:"
      echo "  paths: [$(IFS=,; echo "$*")]"
    fi
  } > "$WORK/sluice.yml"
  "$SLUICE" run --config "$WORK/sluice.yml" 2>"$WORK/sluice.err" &
  SLUICE_PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  local cpu0 cpu1 events
  cpu0=$(cpu_seconds "$SLUICE_PID")
  "$BUILD/sluice" simulate --scenario rules/scenarios/quiet-day.yml --seed 1 --speed 0 \
    --beats "127.0.0.1:$beats" --syslog "127.0.0.1:$syslog" "${SIM_ARGS[@]}" > "$WORK/sim.out" 2>&1
  events=$(grep -o 'events [0-9]*' "$WORK/sim.out" | tail -1 | cut -d' ' -f2)
  # Syslog has no ACK: wait until the file output has every event.
  for _ in $(seq 400); do
    local sent
    sent=$(curl -sf "http://127.0.0.1:$http/metrics" | awk '/^sluice_component_sent_events_total.*component="file"/ {s+=$2} END {print s+0}')
    [[ $sent -ge $events ]] && break
    sleep 0.05
  done
  cpu1=$(cpu_seconds "$SLUICE_PID")
  local flows
  flows=$(curl -sf "http://127.0.0.1:$http/metrics" | awk '/^sluice_flow_outcomes_total.*outcome="completed"/ {s+=$2} END {print s+0}')
  kill -TERM "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=
  awk -v l="$label" -v e="$events" -v c0="$cpu0" -v c1="$cpu1" -v f="$flows" \
    'BEGIN {c = c1 - c0; printf "%-12s events %d  sluice CPU %.2f s  %.0f events/CPU-s  (orders completed by the flow rule: %d)\n", l, e, c, e / c, f}' \
    | tee -a "$WORK/results.txt"
}

NO_FLOW=(rules/shop/calculations.yml rules/shop/traffic.yml rules/shop/queue_and_databases.yml rules/shop/levels.yml)
echo "flow cost: $RUNS runs each, alternating; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
CONFIGS=${CONFIGS:-no-rules flow-only pack-no-flow pack}
for i in $(seq "$RUNS"); do
  for c in $CONFIGS; do
    case $c in
      no-rules) run "$c" ;;
      flow-only) run "$c" "$PWD/rules/shop/orders.yml" ;;
      pack-no-flow) run "$c" "${NO_FLOW[@]/#/$PWD/}" ;;
      pack) run "$c" "${NO_FLOW[@]/#/$PWD/}" "$PWD/rules/shop/orders.yml" ;;
    esac
  done
done
for l in $CONFIGS; do
  grep "^$l " "$WORK/results.txt" | awk '{print $8}' | sort -n | awk -v l="$l" '{a[NR]=$1} END {printf "median %-12s %.0f events/CPU-s (%d runs)\n", l, a[int((NR+1)/2)], NR}'
done
