"""Part 5, command-line start-up, end to end, against `python -c pass` and `import boto3`.

Each case is a fresh process timed from spawn to exit (and its own peak RSS), in rounds: each
round runs every case once, in a rotating order; ratios are taken within a round, then the
median over rounds is reported.
- `python -c pass`, `python -c "import boto3"`: the references;
- `eks-guardrail evaluate FILE`: one CloudTrail event (tests/events/, a real AWS sample);
- `eks-guardrail scan --help`, `eks-guardrail --help`.
Then, once each, the same commands under a wrapper that records which of boto3 and botocore
ended up in `sys.modules` (`evaluate` must never import boto3).

Run alone: `python benchmarks/cli_startup.py [--quick] [--rounds N] [--json FILE]`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import ROOT, PartResult, Table, Target, child_env, median, part_main, progress, progress_done, run_child  # noqa: E402

EVENT_FILE = ROOT / "tests" / "events" / "eks_CreateAccessEntry_stratus-red-team.json"
TARGET_EVALUATE = 0.7

# Runs the CLI as the console script does, and writes the AWS SDK modules it imported at exit.
MODULES_WRAPPER = """
import atexit, json, sys
out = sys.argv[1]
def record():
    with open(out, "w") as handle:
        json.dump(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "s3transfer")), handle)
atexit.register(record)
sys.argv = ["eks-guardrail", *sys.argv[2:]]
from eks_guardrail.cli import main
sys.exit(main())
"""


def cli() -> str:
    script = Path(sys.executable).parent / "eks-guardrail"
    return str(script) if script.exists() else "eks-guardrail"


def cases() -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import boto3'": [sys.executable, "-c", "import boto3"],
        "eks-guardrail evaluate FILE": [cli(), "evaluate", str(EVENT_FILE)],
        "eks-guardrail scan --help": [cli(), "scan", "--help"],
        "eks-guardrail --help": [cli(), "--help"],
    }


def sdk_modules(args: list[str]) -> list[str]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        child = run_child([sys.executable, "-c", MODULES_WRAPPER, out.name, *args], env=child_env(), cwd=str(ROOT), timeout=120)
        text = Path(out.name).read_text()
    if not text:
        raise RuntimeError(f"eks-guardrail {' '.join(args)}: exit {child.returncode}, no module list\n{child.stderr[-2000:]}")
    return json.loads(text)


def run(quick: bool = False, rounds: int | None = None) -> PartResult:
    rounds = rounds or (3 if quick else 15)
    result = PartResult("cli", "5. Command-line start-up (end to end, fresh processes)", f"python benchmarks/cli_startup.py --rounds {rounds}")
    todo = cases()
    names = list(todo)
    env = child_env()
    samples: dict[str, list[tuple[float, float, int]]] = {n: [] for n in names}
    for i in range(rounds + 1):  # round 0 warms the file cache and is not counted
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            progress(f"cli: round {i}/{rounds} {name}")
            child = run_child(todo[name], env=env, cwd=str(ROOT), timeout=120)
            if child.returncode not in (0, 1):
                raise RuntimeError(f"{name}: exit {child.returncode}\n{child.stderr[-2000:]}")
            if i:
                samples[name].append((child.seconds, child.peak_rss_mib, child.returncode))
    progress("cli: which SDK modules each command imports")
    modules = {
        "eks-guardrail evaluate FILE": sdk_modules(["evaluate", str(EVENT_FILE)]),
        "eks-guardrail scan --help": sdk_modules(["scan", "--help"]),
        "eks-guardrail --help": sdk_modules(["--help"]),
    }
    progress_done()
    rows = []
    for name in names:
        seconds = median(s for s, _, _ in samples[name])
        x_pass = median(a[0] / b[0] for a, b in zip(samples[name], samples["python -c pass"]))
        x_boto3 = median(a[0] / b[0] for a, b in zip(samples[name], samples["python -c 'import boto3'"]))
        rss = median(r for _, r, _ in samples[name])
        imported = modules.get(name)
        sdk = "" if imported is None else ("boto3 imported" if "boto3" in imported else ("botocore imported" if "botocore" in imported else "none"))
        rows.append((name, round(seconds * 1000, 1), round(x_pass, 2), round(x_boto3, 2), round(rss, 1), sdk))
    result.tables.append(Table(f"medians of {rounds} rounds; ratios within each round", ("command", "ms", "x pass", "x import boto3", "peak RSS MiB", "AWS SDK modules"), rows))
    evaluate = median(a[0] / b[0] for a, b in zip(samples["eks-guardrail evaluate FILE"], samples["python -c 'import boto3'"]))
    result.targets.append(Target("eks-guardrail evaluate <= 0.7x import boto3 (end to end)", f"{evaluate:.2f}x", f"{TARGET_EVALUATE}x", evaluate <= TARGET_EVALUATE))
    imported = modules["eks-guardrail evaluate FILE"]
    result.targets.append(Target(
        "eks-guardrail evaluate never imports boto3", "boto3 imported" if "boto3" in imported else "not imported", "not imported", "boto3" not in imported,
        f"{len(imported)} boto3/botocore modules" if imported else "",
    ))
    result.notes.append(f"evaluate's input: {EVENT_FILE.relative_to(ROOT)} (one event; exit status 1: it has findings)")
    result.data = {"rounds": rounds, "samples": samples, "modules": modules}
    return result


def _options(parser: Any) -> None:
    parser.add_argument("--rounds", type=int, help="rounds (default 15; --quick 3)")


if __name__ == "__main__":
    sys.exit(part_main(run, __doc__.splitlines()[0], extra=_options))
