#!/usr/bin/env bash
# Issue 4's measure by samples: the share of sluice's CPU time spent in the
# rule engine and its detectors (every function of namespace
# sluice::detectors), read off `perf record` of sluice while
# bench/run_beats.sh runs the Beats load with a rule set. A ratio within one
# process and one run, so it holds still when this VM's speed swings (the
# events per CPU-second of sequential runs move by ±5% and more from one
# minute to the next, bench/run_rules_share.sh). Sampled at 3999 Hz, 8 M
# events give ~12k samples: about ±0.4% (absolute) per run.
#
# What it leaves out: the parser's extra work for the fields the rules read
# (~2-3% of a rules run), and what the rules cost the rest in caches. So
# 1 - rules_share_of_samples is an upper bound of the share kept that
# run_rules_share.sh measures; compare builds by rules_share_of_samples.
#
#   bench/run_rules_profile.sh                             # 3 runs of build/
#   RUNS=4 BASE_DIR=/path/to/base/build bench/run_rules_profile.sh   # alternating with a base build
#   bench/run_rules_profile.sh --rules FILE --events 4000000 --top 20
#   bench/run_rules_profile.sh --distinct 2000000         # every event new (lumberjack_loadgen --distinct)
#
# Needs perf (Debian package linux-perf) and the targets sluice,
# lumberjack_loadgen, sluice-es-emulator in each build dir. ~20 s per run.
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=${BUILD_DIR:-build}
BASE=${BASE_DIR:-}
RUNS=${RUNS:-3}
RULES=bench/rules/thirty-rules.yml
EVENTS=8000000
TOP=12
LOADGEN_ARGS=()
while (($#)); do
  case "$1" in
    --rules) RULES=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --top) TOP=$2; shift 2 ;;
    --distinct) LOADGEN_ARGS+=(--distinct "$2"); shift 2 ;;
    *) echo "run_rules_profile.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "run_rules_profile.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

builds=("$NEW")
[[ -n $BASE ]] && builds=("$BASE" "$NEW")
for i in $(seq "$RUNS"); do
  for b in "${builds[@]}"; do
    data="$WORK/run$i-$(echo "$b" | tr / _).data"
    rate=$(PERF_FREQ=${PERF_FREQ:-3999} PERF_OUT=$data BUILD_DIR=$b bench/run_beats.sh --events "$EVENTS" "${LOADGEN_ARGS[@]}" --rules "$RULES" 2>/dev/null |
      grep '^{"events_acked"' | python3 -c 'import json,sys; print(json.load(sys.stdin)["sluice_events_per_cpu_second"])')
    perf report -i "$data" --no-children --sort sym -g none --stdio --percent-limit 0 2>/dev/null >"$data.txt"
    echo "$i $b $rate $data.txt" >>"$WORK/runs"
    echo "$(date +%H:%M:%S) run $i $b: $rate events per CPU-second" >&2
  done
done

python3 - "$WORK/runs" "$NEW" "$BASE" "$TOP" <<'PY'
import json, re, statistics, sys
runs_file, new, base, top = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
line_re = re.compile(r"^\s*([0-9.]+)%\s+\[(.)\]\s+(.*)$")
per_build = {}
for line in open(runs_file):
    _, build, rate, report = line.split()
    funcs, total = {}, 0.0
    for l in open(report):
        m = line_re.match(l)
        if not m:
            continue
        pct, _, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        funcs[sym] = funcs.get(sym, 0) + pct
        total += pct
    rules = {s: p for s, p in funcs.items() if "sluice::detectors::" in s}
    share = sum(rules.values()) / total if total else 0
    per_build.setdefault(build, []).append((share, float(rate), rules))

def summary(build):
    runs = per_build[build]
    shares = [r[0] for r in runs]
    # each rules function's median share of the samples, biggest first
    names = {s for r in runs for s in r[2]}
    med = {s: statistics.median(r[2].get(s, 0) for r in runs) for s in names}
    tops = sorted(med.items(), key=lambda kv: -kv[1])[:top]
    short = lambda s: re.sub(r"\(.*", "", re.sub(r"sluice::detectors::|\(anonymous namespace\)::", "", s))
    return {
        "build": build,
        "rules_share_of_samples_per_run": [round(s, 4) for s in shares],
        "rules_share_of_samples_median": round(statistics.median(shares), 4),
        "events_per_cpu_second_median": round(statistics.median(r[1] for r in runs)),
        "top_rules_functions_pct": {short(s): round(p, 2) for s, p in tops},
    }

print(json.dumps(summary(new)))
if base:
    print(json.dumps(summary(base)))
PY
