"""The benchmark of issue 15, in one command: every part, each table with PASS/MISS per target.

    python benchmarks/run.py [--quick] [--only cold,throughput,calls,sweep,cli] [--json FILE]

Parts (each also runs alone: `python benchmarks/<module>.py --help`):
  cold        cold_init.py    each handler's import, ready, first event in fresh processes, paired
                              with `import boto3` and its floor; peak RSS
  throughput  throughput.py   events a second on one core: parse only, rules only, both
  calls       aws_calls.py    AWS calls per event kind and outcome, by operation, repeats flagged
  sweep       sweep_scale.py  the sweep at 10, 50, 100 clusters x 200 entries, 50 ms per call
  cli         cli_startup.py  `eks-guardrail evaluate`, `scan --help` against `python -c pass`, `import boto3`

Progress goes to standard error, the tables to standard output. --quick: small sizes and few
runs, a smoke run of about a minute (its figures are not the record). The record of the figures
is docs/benchmarks.md. Exit status: 0 every target met, 1 a target missed, 2 a part failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import ROOT, PartResult, Table, Target, render, render_table  # noqa: E402

PARTS = {
    "cold": "cold_init",
    "throughput": "throughput",
    "calls": "aws_calls",
    "sweep": "sweep_scale",
    "cli": "cli_startup",
}


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "functions"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" (functions/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run (about a minute)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts (default: all): {','.join(PARTS)}")
    parser.add_argument("--json", metavar="FILE", help="also write every part's results as JSON")
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)} (choose from {', '.join(PARTS)})")

    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = f"eks-guardrail benchmarks: commit {_commit()}, Python {platform.python_version()}, {cpus} CPU(s)" + (", --quick" if args.quick else "")
    print(header)
    results: list[PartResult] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name in chosen:
        module = importlib.import_module(PARTS[name])
        print(f"[{name}] running ({time.perf_counter() - started:,.0f} s so far)", file=sys.stderr, flush=True)
        part_started = time.perf_counter()
        try:
            result = module.run(quick=args.quick)
        except Exception as error:  # one part failing must not hide the others
            traceback.print_exc()
            failed.append(name)
            result = PartResult(name, f"{name}: FAILED", f"python benchmarks/{PARTS[name]}.py")
            result.targets.append(Target(f"{name} ran", f"{type(error).__name__}: {error}"[:200], "ran", False))
        result.seconds = time.perf_counter() - part_started
        results.append(result)
        print("\n" + render(result) + f"\n({result.seconds:,.0f} s)\n", flush=True)

    targets = [(r.part, t) for r in results for t in r.targets]
    print(render_table(Table("summary", ("", "part", "target", "measured"), [(t.verdict, part, t.name, t.measured) for part, t in targets])))
    missed = sum(1 for _, t in targets if t.ok is False)
    print(f"\n{len(targets) - missed} of {len(targets)} targets met or not applicable; {missed} missed; {time.perf_counter() - started:,.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "quick": args.quick, "parts": [r.to_json() for r in results]}, indent=2, default=str) + "\n")
    if failed:
        return 2
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
