#!/usr/bin/env bash
# Syslog over TCP → Elasticsearch, sluice against rsyslog, same traffic, same
# machine, same run. Each gets its own fast bulk endpoint
# (sluice-es-emulator --fast); a sender (syslog_loadgen: ~250-byte lines, half
# RFC 5424, half RFC 3164, LF framing) sends N messages; we wait until the
# endpoint has N documents and read the receiver's CPU seconds and peak RSS
# from /proc.
#
#   bench/run_syslog_vs_rsyslog.sh [--sluice-only] [MESSAGES]      (default 2000000)
#
# Why 2 M: each run also pays a cost that does not grow with its length, mostly
# the first touch of the memory its backlog occupies (peak RSS 50-190 MiB, ~1 ms
# of CPU per MiB on this VM). Fitted over 250 k-4 M messages per run (sluice's
# CPU = a + b*N, bench/RESULTS.md, "2026-11-21 late (syslog-6)"): a ~0.09 s,
# b ~0.98 us/msg, so a 1 M run reads ~8% below the steady rate and a 2 M run
# ~4%. Both receivers get the same N.
#
# --sluice-only skips rsyslog (quick A/B runs of two sluice builds:
# BUILD_DIR=<build> selects the sluice, emulator and loadgen binaries).
# SLUICE_THREADS=1 also prints sluice's CPU per thread (µs per message).
#
# rsyslog: Debian rsyslog + rsyslog-elasticsearch, imtcp → omelasticsearch
# (bulkmode, esVersion.major=8) with an ECS-shaped JSON template, in a private
# instance (own config, pid file and work directory).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
RSYSLOG=1
if [[ ${1:-} == --sluice-only ]]; then RSYSLOG=0; shift; fi
N=${1:-2000000}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/lib.sh
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }      # clock ticks, all threads
threads_of() {  # $1 = pid: "tid ticks" per thread
  for t in /proc/$1/task/*; do
    awk '{split($0, f, ") "); split(f[2], g, " "); print $1, g[12] + g[13]}' "$t/stat"
  done
}
hwm_of() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }    # KiB
TICKS=$(getconf CLK_TCK)

start_emulator() { start_es_emulator "$1"; PIDS+=("$EMU_PID"); }  # $1 = name; sets EMU_PORT
wait_items() {  # $1 = emulator port, $2 = count
  for _ in $(seq 3000); do
    local got
    got=$(curl -s "http://127.0.0.1:$1/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items_ok"])')
    [[ $got -ge $2 ]] && return 0
    sleep 0.1
  done
  echo "timeout waiting for $2 documents (have $got)" >&2
  return 1
}
measure() {  # $1 = name, $2 = pid, $3 = syslog port, $4 = emulator port
  local c0 c1 t0 t1
  c0=$(cpu_of "$2"); t0=$(date +%s.%N)
  [[ ${SLUICE_THREADS:-0} == 1 && $1 == sluice ]] && threads_of "$2" > "$WORK/threads0"
  "$BUILD/bench/syslog_loadgen" --port "$3" --messages "$N" 2>>"$WORK/loadgen.err"
  wait_items "$4" "$N"
  c1=$(cpu_of "$2"); t1=$(date +%s.%N)
  if [[ ${SLUICE_THREADS:-0} == 1 && $1 == sluice ]]; then
    threads_of "$2" > "$WORK/threads1"
    python3 - "$WORK/threads0" "$WORK/threads1" "$TICKS" "$N" >&2 <<'PY'
import collections, sys
def load(p):
    d = collections.Counter()
    for line in open(p):
        name, ticks = line.rsplit(" ", 1)
        d[name] += int(ticks)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
ticks, n = float(sys.argv[3]), int(sys.argv[4])
d = sorted(((b[k] - a[k]) / ticks / n * 1e6 for k in b if b[k] - a[k] > 0), reverse=True)
print("  sluice threads, µs/msg, largest first: " + " ".join(f"{x:.3f}" for x in d) + f" (total {sum(d):.3f})")
PY
  fi
  python3 - "$1" "$c0" "$c1" "$TICKS" "$N" "$(hwm_of "$2")" "$t0" "$t1" <<'PY'
import sys
name, c0, c1, ticks, n, hwm, t0, t1 = sys.argv[1:]
cpu = (float(c1) - float(c0)) / float(ticks)
print(f'{{"receiver":"{name}","messages":{n},"cpu_seconds":{cpu:.2f},"messages_per_cpu_second":{int(n)/cpu:.0f},'
      f'"wall_seconds":{float(t1)-float(t0):.2f},"peak_rss_mib":{int(hwm)/1024:.1f}}}')
PY
}

echo "bench: $N messages; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); rsyslogd $(rsyslogd -v | head -1 | awk '{print $2}')" >&2

# sluice
start_emulator es-sluice; SLUICE_ES=$EMU_PORT
SLUICE_PORT=$(free_port)
cat > "$WORK/sluice.yml" <<YAML
data_dir: $WORK/sluice-data
http: {listen: ""}
log_level: warn
inputs:
  - {type: syslog, protocol: tcp, listen: "127.0.0.1:$SLUICE_PORT"}
outputs:
  - {type: elasticsearch, hosts: ["http://127.0.0.1:$SLUICE_ES"], index: "syslog-%{+yyyy.MM.dd}"}
YAML
"$BUILD/sluice" run --config "$WORK/sluice.yml" 2>"$WORK/sluice.err" &
SLUICE_PID=$!; PIDS+=($SLUICE_PID)
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$SLUICE_PORT) 2>/dev/null && break; sleep 0.05; done
measure sluice "$SLUICE_PID" "$SLUICE_PORT" "$SLUICE_ES" | tee "$WORK/sluice.json"

[[ $RSYSLOG == 1 ]] || exit 0

# rsyslog
start_emulator es-rsyslog; RS_ES=$EMU_PORT
RS_PORT=$(free_port)
mkdir -p "$WORK/rsyslog-work"
sed -e "s|@WORK_DIR@|$WORK/rsyslog-work|" -e "s|@TCP_PORT@|$RS_PORT|" -e "s|@ES_PORT@|$RS_ES|" \
  bench/rsyslog/imtcp-to-elasticsearch.conf > "$WORK/rsyslog.conf"
rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslog.pid" 2>"$WORK/rsyslog.err" &
RS_PID=$!; PIDS+=($RS_PID)
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$RS_PORT) 2>/dev/null && break; sleep 0.05; done
measure rsyslog "$RS_PID" "$RS_PORT" "$RS_ES" | tee "$WORK/rsyslog.json"

python3 - "$WORK/sluice.json" "$WORK/rsyslog.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
print(f'ratio: sluice handles {s["messages_per_cpu_second"]/r["messages_per_cpu_second"]:.2f}x the messages per CPU-second '
      f'of rsyslog; peak RSS {s["peak_rss_mib"]} MiB vs {r["peak_rss_mib"]} MiB')
PY
