#!/usr/bin/env bash
# What the detectors' state snapshots cost on the persisted-queue Beats path (issue 6).
#
# Like `bench/run_beats.sh --queue persisted --rules FILE`, but sluice's CPU is read once the
# pipeline has processed every event (detectors and Elasticsearch output), not when the last
# window is ACKed: with the persisted queue the ACK comes from the disk, so at that moment much of
# the pipeline's work is still to do and varies from run to run.
#
#   bench/run_state_cost.sh                                   # 2M events, bench/rules/thirty-rules.yml
#   bench/run_state_cost.sh --snapshot-interval 1000h         # snapshots only at shutdown
#   BUILD_DIR=/path/to/other/build bench/run_state_cost.sh    # another build (e.g. before issue 6)
#
# Prints one line: events, seconds to ACK, CPU seconds when drained, events per CPU-second,
# snapshots written and the size of the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
RULES=$(realpath bench/rules/thirty-rules.yml)
EVENTS=2000000
INTERVAL=
while (($#)); do
  case "$1" in
    --rules) RULES=$(realpath "$2"); shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --snapshot-interval) INTERVAL=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d)
cleanup() {
  [[ -n ${SLUICE_PID:-} ]] && kill "$SLUICE_PID" 2>/dev/null || true
  [[ -n ${ES_PID:-} ]] && kill "$ES_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/lib.sh
BEATS_PORT=$(free_port)
HTTP_PORT=$(free_port)

start_es_emulator es; ES_PID=$EMU_PID; ES_PORT=$EMU_PORT
cat > "$WORK/sluice.yml" <<YAML
data_dir: $WORK/data
pipeline:
  queue: {type: persisted}
http: {listen: 127.0.0.1:$HTTP_PORT}
log_level: warn
inputs:
  - type: beats
    listen: 127.0.0.1:$BEATS_PORT
outputs:
  - type: elasticsearch
    hosts: [http://127.0.0.1:$ES_PORT]
    index: bench
rules:
  paths: [$RULES]
YAML
[[ -n $INTERVAL ]] && echo "  snapshot_interval: $INTERVAL" >> "$WORK/sluice.yml"
"$BUILD/sluice" run --config "$WORK/sluice.yml" 2>"$WORK/sluice.err" &
SLUICE_PID=$!
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done

metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
"$BUILD/bench/lumberjack_loadgen" --port "$BEATS_PORT" --events "$EVENTS" > "$WORK/result.json"
ACK_SECONDS=$(grep -o '"seconds":[0-9.]*' "$WORK/result.json" | cut -d: -f2)
# Drained: every record delivered and the detectors' match count steady for a second.
last=-1
for _ in $(seq 600); do
  records=$(metric 'sluice_queue_records{queue="persisted"}')
  matched=$(metric 'sluice_rule_events_matched_total')
  [[ $records == 0 && $matched == "$last" ]] && break
  last=$matched
  sleep 1
done
read -r utime stime < <(awk '{print $14, $15}' "/proc/$SLUICE_PID/stat")
CPU=$(echo "($utime + $stime) / $(getconf CLK_TCK)" | bc -l)
printf 'events %s  ack %.1f s  cpu %.2f s (drained)  %.0f events/cpu-s  snapshots %s  last snapshot %s bytes  matches %s\n' \
  "$EVENTS" "$ACK_SECONDS" "$CPU" "$(echo "$EVENTS / $CPU" | bc -l)" \
  "$(metric sluice_rules_state_snapshots_total)" "$(metric sluice_rules_state_snapshot_bytes)" "$last"
