#!/usr/bin/env bash
# The Beats path's cost in instructions: sluice runs under valgrind's callgrind
# while lumberjack_loadgen sends it events (as bench/run_beats.sh, to
# sluice-es-emulator --fast); the counters are zeroed once sluice is up and
# dumped once the last event is ACKed, so start-up and shutdown are left out.
# Prints the user-space instructions per event, plain and with a rule set,
# the share of them kept with the rules, and the functions that cost most.
# rules_tick_ir_per_event is the rule engine's Tick (alert evaluation and
# state snapshots, driven by the wall clock: see below), inclusive; under
# callgrind it swings by tens per event from run to run (DuplicateDetector's
# Evaluate scans its whole table), so rules_own_without_tick_ir_per_event is
# the steadier figure to compare builds by.
#
# A companion to run_beats.sh's events per CPU-second, not a replacement: it
# does not see the kernel (TCP, scheduling: ~30% of sluice's CPU time, the
# same with and without rules) nor cache misses, but it gives the same figure
# on any x86-64 machine at any hour, where the CPU-second figures of this VM
# swing by up to 60% within minutes. Work driven by the wall clock (ticks,
# snapshots) is ~30x overcounted per event: sluice runs ~30x slower under
# callgrind while its timers keep their periods.
#
#   bench/run_beats_ir.sh                                  # plain and bench/rules/thirty-rules.yml, 200k events
#   bench/run_beats_ir.sh --rules FILE --events 100000 --top 30
#   bench/run_beats_ir.sh --distinct 200000               # every event new (lumberjack_loadgen --distinct)
#   BUILD_DIR=/path/to/build bench/run_beats_ir.sh         # another build (sluice, bench/, tests/common/)
#
# Needs valgrind (Debian package `valgrind`) and the targets sluice,
# lumberjack_loadgen and sluice-es-emulator. ~1 minute per run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${BUILD_DIR:-build}")
RULES=bench/rules/thirty-rules.yml
EVENTS=200000
TOP=15
LOADGEN=()
while (($#)); do
  case "$1" in
    --rules) RULES=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --distinct) LOADGEN=(--distinct "$2"); shift 2 ;;
    *) echo "run_beats_ir.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "run_beats_ir.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
RULES=$(realpath "$RULES")

WORK=$(mktemp -d)
cleanup() {
  [[ -n ${SLUICE_PID:-} ]] && kill "$SLUICE_PID" 2>/dev/null || true
  [[ -n ${EMU_PID:-} ]] && kill "$EMU_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ -n ${KEEP:-} ]]; then echo "run_beats_ir.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
source bench/lib.sh

# run NAME [RULES]: one callgrind run; leaves $WORK/NAME.out (the dump) and $WORK/NAME.json.
run() {
  local name=$1 rules=${2:-}
  start_es_emulator "$name-es"
  local beats_port http_port
  beats_port=$(free_port)
  http_port=$(free_port)
  cat > "$WORK/$name.yml" <<YAML
data_dir: $WORK/$name-data
http: {listen: 127.0.0.1:$http_port}
log_level: warn
inputs:
  - type: beats
    listen: 127.0.0.1:$beats_port
outputs:
  - type: elasticsearch
    hosts: [http://127.0.0.1:$EMU_PORT]
    index: bench
YAML
  [[ -n $rules ]] && printf 'rules:\n  paths: [%s]\n' "$rules" >> "$WORK/$name.yml"
  valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$WORK/$name.cg" "$BUILD/sluice" run --config "$WORK/$name.yml" \
    2>"$WORK/$name.err" &
  SLUICE_PID=$!
  local up=0
  for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.1
  done
  ((up)) || { echo "run_beats_ir.sh: sluice did not come up; its log:" >&2; tail -20 "$WORK/$name.err" >&2; exit 1; }
  callgrind_control -z "$SLUICE_PID" >/dev/null 2>&1
  echo "run_beats_ir.sh: $name: $EVENTS events through sluice under callgrind" >&2
  "$BUILD/bench/lumberjack_loadgen" --port "$beats_port" --events "$EVENTS" "${LOADGEN[@]}" 2>/dev/null > "$WORK/$name.json"
  callgrind_control -d "$SLUICE_PID" >/dev/null 2>&1
  for _ in $(seq 100); do [[ -s $WORK/$name.cg.1 ]] && break; sleep 0.1; done
  kill "$SLUICE_PID" 2>/dev/null || true
  wait "$SLUICE_PID" 2>/dev/null || true
  SLUICE_PID=
  kill "$EMU_PID" 2>/dev/null || true
  wait "$EMU_PID" 2>/dev/null || true
  EMU_PID=
  mv "$WORK/$name.cg.1" "$WORK/$name.out"
}

run plain
run rules "$RULES"
# Self cost per function from the two dumps (callgrind_annotate misreads a
# dump taken after zeroing: it puts everything on start_thread).
python3 - "$WORK" "$TOP" "$RULES" <<'PY'
import collections, json, sys
work, top, rules = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def load(name):
    events = json.load(open(f"{work}/{name}.json"))["events_acked"]
    cost, fn, cfn, after_calls, total, tick = collections.Counter(), None, None, False, 0, 0
    for line in open(f"{work}/{name}.out"):
        if line.startswith("fn="):
            fn = line[3:].strip()
        elif line.startswith("cfn="):
            cfn = line[4:].strip()
        elif line.startswith("calls="):
            after_calls = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if len(parts) < 2:
                continue
            if after_calls:  # the inclusive cost of a call, not the caller's own
                after_calls = False
                if cfn.startswith("sluice::detectors::RuleEngine::Tick("):
                    tick += int(parts[1])
                continue
            cost[fn] += int(parts[1])
            total += int(parts[1])
    return events, total, cost, tick

def short(f):
    f = f.replace("(anonymous namespace)", "anon")
    depth, out = 0, []
    for ch in f:  # drop argument lists, keep template arguments
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)

runs = {name: load(name) for name in ("plain", "rules")}
p = runs["plain"][1] / runs["plain"][0]
r = runs["rules"][1] / runs["rules"][0]
tick = runs["rules"][3] / runs["rules"][0]
print(json.dumps({"events": runs["rules"][0], "plain_ir_per_event": round(p), "rules_ir_per_event": round(r),
                  "rules_own_ir_per_event": round(r - p), "share_kept_by_ir": round(p / r, 3),
                  "rules_tick_ir_per_event": round(tick), "rules_own_without_tick_ir_per_event": round(r - p - tick),
                  "rules": rules}))
for name, (events, _, cost, _) in runs.items():
    print(f"{name}: instructions per event, top functions (own cost)")
    for f, c in cost.most_common(top):
        print(f"  {c / events:7.0f}  {short(f)}")
PY
