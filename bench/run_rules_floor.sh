#!/usr/bin/env bash
# Where a rule set's cost goes, end to end: the Beats path's events per sluice
# CPU-second in four configurations of one binary, run in rounds (the order
# turning by one each round, since this VM's speed swings within minutes):
#
#   plain     no rules
#   parse     the rules loaded, Observe left out: what the parser pays for
#             reading the rules' fields
#   front     Observe without the detectors: conditions, group hashes, the
#             per-rule match runs and updates (made, then dropped)
#   full      the rules as they run
#
# The binary is main built with bench/patches/rules-floor.patch, which reads
# SLUICE_RULES_FLOOR (1: no detectors, 2: no Observe); never a release build.
# The script builds it into build-floor/ (a git worktree of HEAD in
# build-floor/src with the patch applied), again whenever HEAD has moved:
# it measures the last commit, not uncommitted changes. Prints each
# configuration's median rate and the cost per event of each stage (µs, from
# the medians): parse, front, detectors.
#
#   bench/run_rules_floor.sh                          # 4 rounds, 4 M events each
#   bench/run_rules_floor.sh --distinct 2000000       # every event new
#   ROUNDS=6 bench/run_rules_floor.sh --rules FILE --events 2000000
#
# Needs what run_beats.sh needs (lumberjack_loadgen and sluice-es-emulator,
# from build/). ~10 s per run; the first build ~3-10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4}
RULES=bench/rules/thirty-rules.yml
EVENTS=4000000
LOADGEN=()
source bench/lib.sh
rules_run_options "$@"
for t in build/bench/lumberjack_loadgen build/tests/common/sluice-es-emulator; do
  [[ -x $t ]] || { echo "run_rules_floor.sh: $t is missing: build first (scripts/build)" >&2; exit 2; }
done

FLOOR=build-floor
HEAD_COMMIT=$(git rev-parse HEAD)
if [[ ! -x $FLOOR/sluice || $(cat "$FLOOR/built-from" 2>/dev/null) != "$HEAD_COMMIT" ]]; then
  echo "run_rules_floor.sh: building $FLOOR/sluice (HEAD with bench/patches/rules-floor.patch)" >&2
  rm -rf "$FLOOR"
  mkdir -p "$FLOOR"
  git worktree prune
  git worktree add --detach "$FLOOR/src" HEAD >/dev/null
  git -C "$FLOOR/src" apply "$PWD/bench/patches/rules-floor.patch"
  cmake -S "$FLOOR/src" -B "$FLOOR" -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$FLOOR" -j2 --target sluice 2>&1 | grep -E '^\[ *[0-9]+%\] (Building|Linking)' >&2 || true
  [[ -x $FLOOR/sluice ]] || { echo "run_rules_floor.sh: the build failed" >&2; exit 1; }
  echo "$HEAD_COMMIT" > "$FLOOR/built-from"
fi

# A build dir per configuration: the floor binary behind a wrapper that sets
# the variable (exec: the PID run_beats.sh measures is sluice's), and the
# load generator and emulator of build/.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for c in 0 1 2; do
  mkdir -p "$WORK/f$c/tests"
  ln -s "$PWD/build/bench" "$WORK/f$c/bench"
  ln -s "$PWD/build/tests/common" "$WORK/f$c/tests/common"
  printf '#!/bin/sh\nSLUICE_RULES_FLOOR=%s exec %q "$@"\n' "$c" "$PWD/$FLOOR/sluice" > "$WORK/f$c/sluice"
  chmod +x "$WORK/f$c/sluice"
done

configs=(plain parse front full)
for r in $(seq "$ROUNDS"); do
  for k in 0 1 2 3; do
    c=${configs[$(((k + r - 1) % 4))]}
    case $c in
      plain) dir=$WORK/f0; args=() ;;
      parse) dir=$WORK/f2; args=(--rules "$RULES") ;;
      front) dir=$WORK/f1; args=(--rules "$RULES") ;;
      full) dir=$WORK/f0; args=(--rules "$RULES") ;;
    esac
    rate=$(BUILD_DIR=$dir bench/run_beats.sh --events "$EVENTS" "${LOADGEN[@]}" "${args[@]}" 2>/dev/null |
      grep '^{"events_acked"' | python3 -c 'import json,sys; print(json.load(sys.stdin)["sluice_events_per_cpu_second"])')
    echo "$(date +%H:%M:%S) round $r $c $rate" | tee -a "$WORK/log" >&2
  done
done

python3 - "$WORK/log" <<'PY'
import json, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    _, _, _, config, rate = line.split()
    rates.setdefault(config, []).append(float(rate))
med = {c: statistics.median(v) for c, v in rates.items()}
us = {c: 1e6 / m for c, m in med.items()}
print(json.dumps({
    "median_events_per_cpu_second": {c: round(med[c]) for c in ("plain", "parse", "front", "full")},
    "share_kept": {c: round(med[c] / med["plain"], 3) for c in ("parse", "front", "full")},
    "us_per_event": {"plain": round(us["plain"], 3), "parse": round(us["parse"] - us["plain"], 3),
                     "front": round(us["front"] - us["parse"], 3), "detectors": round(us["full"] - us["front"], 3)},
    "rounds": len(rates["plain"]),
}))
PY
