#!/usr/bin/env bash
# End-to-end Beats benchmark: lumberjack_loadgen (Filebeat-like) → sluice →
# a fast local bulk endpoint (sluice-es-emulator --fast). Reports events/s,
# ACK latency, and sluice's CPU seconds, events per CPU-second and peak RSS.
#
#   bench/run_beats.sh                         # 2M events, plain
#   bench/run_beats.sh --compression 3         # zlib level 3, like Filebeat
#   bench/run_beats.sh --duration 300          # RSS flatness over 5 minutes
#   bench/run_beats.sh --output file           # to /dev/null through the file output
#   bench/run_beats.sh --queue persisted       # pipeline.queue.type: persisted (sync: batch)
#   bench/run_beats.sh --queue persisted --sync interval
#   bench/run_beats.sh --rules bench/rules/thirty-rules.yml   # with a rule set (rules: {paths: [FILE]})
#   PERF_OUT=/tmp/p.data bench/run_beats.sh ...  # sluice sampled by `perf record` while the load runs
#   WORKERS=1 bench/run_beats.sh ...           # pipeline.workers (default 0: one per core)
#   PERF_ARGS=-g PERF_OUT=/tmp/p.data bench/run_beats.sh ...  # more options for `perf record` (here call graphs)
#
# Extra options are passed to lumberjack_loadgen.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
OUTPUT=es
QUEUE=memory
SYNC=batch
RULES=
ARGS=()
while (($#)); do
  case "$1" in
    --output) OUTPUT=$2; shift 2 ;;
    --queue) QUEUE=$2; shift 2 ;;
    --sync) SYNC=$2; shift 2 ;;
    --rules) RULES=$(realpath "$2"); shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [[ ! " ${ARGS[*]-} " =~ " --events " && ! " ${ARGS[*]-} " =~ " --duration " ]]; then
  ARGS+=(--events 2000000)
fi

WORK=$(mktemp -d)
cleanup() {
  [[ -n ${SLUICE_PID:-} ]] && kill "$SLUICE_PID" 2>/dev/null || true
  [[ -n ${ES_PID:-} ]] && kill "$ES_PID" 2>/dev/null || true
  [[ -n ${RSS_PID:-} ]] && kill "$RSS_PID" 2>/dev/null || true
  [[ -n ${PERF_PID:-} ]] && kill -INT "$PERF_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

source bench/lib.sh
BEATS_PORT=$(free_port)
HTTP_PORT=$(free_port)

if [[ $OUTPUT == es ]]; then
  start_es_emulator es; ES_PID=$EMU_PID; ES_PORT=$EMU_PORT
  OUT_CFG="  - type: elasticsearch
    hosts: [http://127.0.0.1:$ES_PORT]
    index: bench"
else
  OUT_CFG="  - type: file
    path: /dev/null"
fi
QUEUE_CFG=""
if [[ $QUEUE == persisted || -n ${WORKERS:-} ]]; then
  QUEUE_CFG="pipeline:"
  [[ $QUEUE == persisted ]] && QUEUE_CFG+="
  queue: {type: persisted, sync: $SYNC}"
  [[ -n ${WORKERS:-} ]] && QUEUE_CFG+="
  workers: $WORKERS"
fi
cat > "$WORK/sluice.yml" <<YAML
data_dir: ${DATA_DIR:-$WORK/data}
$QUEUE_CFG
http: {listen: 127.0.0.1:$HTTP_PORT}
log_level: warn
inputs:
  - type: beats
    listen: 127.0.0.1:$BEATS_PORT
outputs:
$OUT_CFG
YAML
if [[ -n $RULES ]]; then
  printf 'rules:\n  paths: [%s]\n' "$RULES" >> "$WORK/sluice.yml"
fi
"$BUILD/sluice" run --config "$WORK/sluice.yml" 2>"$WORK/sluice.err" &
SLUICE_PID=$!
for _ in $(seq 200); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done

# RSS every 10 s, to show it stays flat.
( while kill -0 "$SLUICE_PID" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$SLUICE_PID/status" >> "$WORK/rss.log" 2>/dev/null || true
    sleep 10
  done ) &
RSS_PID=$!

if [[ -n ${PERF_OUT:-} ]]; then
  perf record ${PERF_ARGS:-} -F "${PERF_FREQ:-1999}" -o "$PERF_OUT" -p "$SLUICE_PID" 2>"$WORK/perf.err" >/dev/null &
  PERF_PID=$!
  sleep 0.5  # perf attached before the load starts
fi
echo "bench: sluice pid $SLUICE_PID, beats :$BEATS_PORT, output $OUTPUT, queue $QUEUE$([[ $QUEUE == persisted ]] && echo " (sync: $SYNC)"); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
"$BUILD/bench/lumberjack_loadgen" --port "$BEATS_PORT" --pid "$SLUICE_PID" "${ARGS[@]}" | tee "$WORK/result.json"
if [[ -n ${PERF_PID:-} ]]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=
fi
if [[ -n $RULES ]]; then
  curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" > "$WORK/metrics.txt" || true
  [[ -n ${METRICS_OUT:-} ]] && cp "$WORK/metrics.txt" "$METRICS_OUT"
  echo "bench: rules: $(grep -c '^sluice_rule_events_matched_total' "$WORK/metrics.txt") with matches, $(awk '/^sluice_rule_events_matched_total/ {s+=$2} END {print s+0}' "$WORK/metrics.txt") matches, $(awk '/^sluice_rule_alerts_firing/ {s+=$2} END {print s+0}' "$WORK/metrics.txt") alerts firing" >&2
fi
if [[ -s $WORK/rss.log ]]; then
  echo "bench: sluice RSS samples (MiB, every 10 s): $(awk '{printf "%.0f ", $1/1024}' "$WORK/rss.log")" >&2
fi
