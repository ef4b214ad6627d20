#!/usr/bin/env python3
"""Runs sluice-capacity on a scenario and checks the report it writes.

    check_capacity_report.py SLUICE_CAPACITY SCENARIO OUT_DIR [SHIPPER...]

Checks (no timing assertions): the command succeeds; the Markdown, SVG and
JSON files exist; for every shipper named, the paced steps' offered rates rise
strictly, each step delivered events but no more than it sent, achieved is not
above offered (beyond the tolerance of a window sent at a step's start), the
shipper used CPU and memory; the rules of the scenario (if any) matched events;
the SVG parses as XML with a polyline per series;
the Markdown has a step table row per step and the side-by-side section when
two shippers ran.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

driver, scenario, out = sys.argv[1:4]
shippers = sys.argv[4:] or ["sluice"]
# Relative paths in scenarios (rules) are taken from the repository root.
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
shutil.rmtree(out, ignore_errors=True)
proc = subprocess.run([driver, "--scenario", scenario, "--out", out], cwd=root, stderr=subprocess.PIPE, text=True)
sys.stderr.write(proc.stderr)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


check(proc.returncode == 0, f"exit status {proc.returncode}")
check("capacity: sluice" in proc.stderr, "no live progress lines on stderr")
name = os.path.splitext(os.path.basename(scenario))[0]
paths = {ext: os.path.join(out, name + "." + ext) for ext in ("md", "svg", "json")}
for ext, path in paths.items():
    check(os.path.isfile(path) and os.path.getsize(path) > 0, f"missing or empty {path}")
if failures:
    sys.exit("FAILED: " + "; ".join(failures))

report = json.load(open(paths["json"]))
runs = {r["shipper"]: r for r in report["runs"]}
check(sorted(runs) == sorted(shippers), f"shippers {sorted(runs)}, expected {sorted(shippers)}")
for shipper, run in runs.items():
    paced = [s for s in run["steps"] if not s["calibration"]]
    check(len(paced) >= 2, f"{shipper}: {len(paced)} paced steps")
    offered = [s["offered_eps"] for s in paced]
    check(all(a < b for a, b in zip(offered, offered[1:])), f"{shipper}: offered not strictly rising: {offered}")
    for s in run["steps"]:
        where = f"{shipper} at {s['offered_eps']:.0f}/s"
        check(s["errors"] == 0, f"{where}: {s['errors']} send errors")
        check(0 < s["delivered"] <= s["sent"], f"{where}: delivered {s['delivered']} of {s['sent']} sent")
        check(s["drained"], f"{where}: the endpoint did not catch up")
        check(0 < s["window_seconds"] and s["window_delivered"] <= s["delivered"], f"{where}: steady-state window")
        check(abs(s["achieved_eps"] - s["window_delivered"] / s["window_seconds"]) <= 1e-6 * s["achieved_eps"] + 1e-6,
              f"{where}: achieved {s['achieved_eps']} is not delivered / seconds in the steady-state window")
        if not s["calibration"]:
            # One window (or one 5 ms chunk of lines) may go out at the very start of a step.
            slack = 1.15 * s["offered_eps"] + 2048 / s["window_seconds"]
            check(s["achieved_eps"] <= slack, f"{where}: achieved {s['achieved_eps']:.0f} > offered")
        check(s["cpu_seconds"] >= 0 and s["rss_max_mib"] > 0, f"{where}: cpu {s['cpu_seconds']} rss {s['rss_max_mib']}")
        if s["cpu_seconds"] > 0:
            check(abs(s["events_per_cpu_s"] * s["cpu_seconds"] - s["delivered"]) <= 1e-6 * s["delivered"] + 1,
                  f"{where}: events per CPU-second inconsistent")
        if s["has_ack"]:
            check(0 < s["ack_ms"]["p50"] <= s["ack_ms"]["p99"] <= s["ack_ms"]["p999"], f"{where}: ACK percentiles {s['ack_ms']}")
    check(sum(s["cpu_seconds"] for s in run["steps"]) > 0, f"{shipper}: no CPU time measured")
# A scenario with a rule file: sluice ran the rules (they matched events).
if any(line.startswith("rules:") for line in open(scenario)):
    rules = runs.get("sluice", {}).get("rules")
    check(rules is not None and rules["matches"] > 0, f"rules in the scenario but no rule matches: {rules}")
if "sizing" in report:
    z = report["sizing"]
    check(z["cores"] >= 1 and z["memory_mib"] > 0, f"sizing {z}")
    check(z["cores"] >= z["target_eps"] / z["events_per_cpu_s"], f"sizing below the measured rate: {z}")

svg = ET.parse(paths["svg"]).getroot()
check(svg.tag == "{http://www.w3.org/2000/svg}svg", f"SVG root is {svg.tag}")
polylines = svg.findall(".//{http://www.w3.org/2000/svg}polyline")
# The diagonal, then per shipper: achieved, latency p50, latency p99.
check(len(polylines) == 1 + 3 * len(runs), f"{len(polylines)} polylines in the SVG")

md = open(paths["md"]).read()
for shipper, run in runs.items():
    section = md.split(f"## Steps: {shipper}\n", 1)
    check(len(section) == 2, f"no step table for {shipper}")
    if len(section) == 2:
        rows = [l for l in section[1].split("\n## ")[0].splitlines() if l.startswith("| ") and not l.startswith(("| offered", "| ---"))]
        check(len(rows) == len(run["steps"]), f"{shipper}: {len(rows)} table rows for {len(run['steps'])} steps")
check(("## Side by side" in md) == (len(runs) > 1), "side-by-side section present iff two shippers ran")
check(("Sizing:" in md) == ("sizing" in report), "sizing line present iff a target was given")
check(f"]({name}.svg)" in md, "the report does not link its chart")
# The in-memory queues' bounds as /metrics gives them (in the sizing section): with the defaults and a
# memory queue, the pipeline's 64 MiB and the elasticsearch output's 64 MiB
# (the persisted queue's bound is on disk and not counted).
if "sluice" in runs and "sizing" in report and not any(line.startswith("queue: persisted") for line in open(scenario)):
    m = re.search(r"gauges add up to (\d+) MiB", md)
    check(m is not None and int(m.group(1)) == 128, f"queue bounds line: {m.group(0) if m else None}")

if failures:
    sys.exit("FAILED:\n  " + "\n  ".join(failures))
print(f"OK: {paths['md']}")
