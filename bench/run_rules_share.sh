#!/usr/bin/env bash
# Issue 4's measure: the share of the Beats path's throughput (events per
# sluice CPU-second) kept with a rule set. Runs bench/run_beats.sh in pairs,
# plain then with the rules, back to back (this VM's speed swings by up to 60%
# within minutes, so only runs close in time are compared), and prints each
# pair's share, the rules' own cost per event (1/rules - 1/plain) and the
# medians. With BASE_DIR, every pair runs that build too (base plain, new
# plain, base rules, new rules; new first in even pairs) and the new/base
# ratios are printed as well.
#
#   bench/run_rules_share.sh                      # 5 pairs, build/, bench/rules/thirty-rules.yml
#   PAIRS=8 BASE_DIR=/path/to/base/build bench/run_rules_share.sh
#   bench/run_rules_share.sh --rules FILE --events 1000000
#   bench/run_rules_share.sh --distinct 2000000   # every event new (lumberjack_loadgen --distinct)
#   bench/run_rules_share.sh --compression 3      # zlib level 3, Filebeat's default
#   bench/run_rules_share.sh --fleet              # each window one host's (lumberjack_loadgen --fleet)
#
# Targets: sluice, lumberjack_loadgen, sluice-es-emulator (in each build dir).
# Needs ~20 s per run of 2 M events.
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=${BUILD_DIR:-build}
BASE=${BASE_DIR:-}
PAIRS=${PAIRS:-5}
RULES=bench/rules/thirty-rules.yml
EVENTS=2000000
LOADGEN=()
source bench/lib.sh
rules_run_options "$@"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

# one BUILD [--rules FILE]: events per sluice CPU-second of one run.
one() {
  local build=$1
  shift
  BUILD_DIR=$build bench/run_beats.sh --events "$EVENTS" "${LOADGEN[@]}" "$@" 2>/dev/null | grep '^{"events_acked"' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sluice_events_per_cpu_second"])'
}

builds=("$NEW")
[[ -n $BASE ]] && builds=("$BASE" "$NEW")
for i in $(seq "$PAIRS"); do
  # With BASE_DIR, the builds take turns at running first: the one that runs
  # second in a pair came out ~2% behind, whichever it was (bench/RESULTS.md,
  # "a slack at the cap").
  order=("${builds[@]}")
  ((i % 2 == 0 && ${#builds[@]} == 2)) && order=("${builds[1]}" "${builds[0]}")
  for mode in plain rules; do
    args=()
    [[ $mode == rules ]] && args=(--rules "$RULES")
    for b in "${order[@]}"; do
      rate=$(one "$b" "${args[@]}")
      echo "$(date +%H:%M:%S) pair $i $mode $b $rate" | tee -a "$LOG" >&2
    done
  done
done

python3 - "$LOG" "$NEW" "$BASE" <<'PY'
import json, random, statistics, sys
log, new, base = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}
for line in open(log):
    _, _, pair, mode, build, rate = line.split()
    runs[(int(pair), mode, build)] = float(rate)
pairs = sorted({p for p, _, _ in runs})

# Where the median of the pairs' shares would fall 9 times in 10 had other
# pairs been drawn like these (bootstrap, fixed seed). On this VM one pair
# reads anywhere from ~0.73 to ~0.85 for the same code: a 6-pair median is
# good to a few points only (bench/RESULTS.md, "how far the 6-pair figure
# can be trusted").
def interval(xs):
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(2000))
    return [round(meds[100], 3), round(meds[1899], 3)]

def summary(build):
    share = [runs[(p, "rules", build)] / runs[(p, "plain", build)] for p in pairs]
    own = [1e6 / runs[(p, "rules", build)] - 1e6 / runs[(p, "plain", build)] for p in pairs]
    return {
        "build": build,
        "plain_median": round(statistics.median(runs[(p, "plain", build)] for p in pairs)),
        "rules_median": round(statistics.median(runs[(p, "rules", build)] for p in pairs)),
        "share_kept_per_pair": [round(s, 3) for s in share],
        "share_kept_median": round(statistics.median(share), 3),
        "share_kept_median_interval_90": interval(share),
        "rules_own_us_per_event_median": round(statistics.median(own), 3),
    }

print(json.dumps(summary(new)))
if base:
    print(json.dumps(summary(base)))
    ratio = [runs[(p, "rules", new)] / runs[(p, "rules", base)] for p in pairs]
    print(json.dumps({"rules_new_over_base_per_pair": [round(r, 3) for r in ratio],
                      "median": round(statistics.median(ratio), 3),
                      "new_ahead": sum(r > 1 for r in ratio), "pairs": len(ratio)}))
PY
