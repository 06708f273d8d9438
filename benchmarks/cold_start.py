"""Cold start: the access-entry handler's init against a bare `import boto3`, as ratios in one run.

Each case runs in a fresh interpreter (as a new Lambda container would), several times;
the median is reported. Run: `python benchmarks/cold_start.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

ENV_SETUP = """
import os, json
os.environ.update({
    "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
    "LEDGER_TABLE": "ledger", "IDEMPOTENCY_TABLE": "idem",
    "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
    "GUARDRAIL_CONFIG": json.dumps({"mode": "enforce", "rules": {"admin-policy": {"action": "rollback"}}}),
})
"""

CASES = {
    "import boto3": "import boto3",
    "boto3 + 2 clients (floor)": "import boto3\nboto3.client('eks')\nboto3.client('dynamodb')",
    "handler module import": "import eks_guardrail.handlers.access_entry",
    "handler ready for its first event": (
        "import eks_guardrail.handlers.access_entry as h\napp = h.app.get()\napp.enforcer.eks_for_region('eu-west-1')"
    ),
}


def measure(code: str) -> float:
    program = ENV_SETUP + "import time\nstart = time.perf_counter()\n" + code + "\nprint(time.perf_counter() - start)"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = {}
    for name, code in CASES.items():
        samples = []
        for i in range(args.runs):
            samples.append(measure(code))
            print(f"\r{name}: run {i + 1}/{args.runs}", end="", file=sys.stderr)
        results[name] = statistics.median(samples)
    print(file=sys.stderr)
    base = results["import boto3"]
    if args.json:
        print(json.dumps({k: {"seconds": v, "ratio": v / base} for k, v in results.items()}, indent=2))
        return
    for name, seconds in results.items():
        print(f"{name:<45} {seconds * 1000:8.1f} ms  {seconds / base:5.2f}x")
    print(textwrap.dedent("""
        Ratios are against `import boto3` in the same run. DESIGN.md's reference points on this machine:
        botocore + two clients about 1.27x (the floor), Cloud Custodian's Lambda path about 2.0x.
    """).strip())


if __name__ == "__main__":
    main()
