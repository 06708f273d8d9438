"""What shipping bytecode saves a cold start on Lambda (`infra/bytecode.py`).

Lambda's `/var/task` and `/opt` are read-only: code shipped as source is compiled on every cold
start. This copies the function code and Powertools (the layer's largest package) twice into a
temporary directory, once as source only and once with unchecked-hash bytecode of this Python,
and times, in fresh processes that write no bytecode, the access-entry handler's import and
`app.get()` beyond the floor (a botocore session and its clients, made first: the runtime's
botocore has its bytecode). CPU time (`time.process_time`), medians.

This Python stands in for the runtime's 3.13 (the runtime's own SDK is not installed for it here);
the compile work it saves is of the same kind. Run: `python benchmarks/bytecode.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
import botocore.session
session = botocore.session.get_session()
for service in ("eks", "dynamodb", "sns"):
    session.create_client(service, region_name="eu-west-1")
start = time.process_time()
import eks_guardrail.handlers.access_entry as handler
assert handler.__file__.startswith(sys.argv[1]), handler.__file__
handler.app.get()
print((time.process_time() - start) * 1000)
"""


def _copy(target: Path) -> None:
    import aws_lambda_powertools

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "functions" / "eks_guardrail", target / "eks_guardrail", ignore=ignore)
    shutil.copytree(Path(aws_lambda_powertools.__file__).parent, target / "aws_lambda_powertools", ignore=ignore)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eks-guardrail-bytecode-") as tmp:
        source, compiled = Path(tmp, "source"), Path(tmp, "compiled")
        _copy(source)
        _copy(compiled)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(compiled)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_REGION": "eu-west-1", "LEDGER_TABLE": "ledger", "IDEMPOTENCY_TABLE": "idem",
            "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts", "GUARDRAIL_CONFIG": '{"mode": "enforce"}',
        })
        samples: dict[str, list[float]] = {"source only": [], "with bytecode": []}
        for run in range(args.runs):
            for name, path in (("source only", source), ("with bytecode", compiled)):
                out = subprocess.run([sys.executable, "-c", CHILD, str(path)], env={**env, "PYTHONPATH": str(path)},
                                     capture_output=True, text=True, check=True).stdout
                samples[name].append(float(out.strip().splitlines()[-1]))
            print(f"\rrun {run + 1}/{args.runs}", end="", file=sys.stderr)
        print(file=sys.stderr)
    print("access-entry handler: import and app.get(), beyond the floor, CPU ms (median of %d)" % args.runs)
    for name, values in samples.items():
        print(f"  {name:<14} {statistics.median(values):7.1f} ms")
    saved = statistics.median(samples["source only"]) - statistics.median(samples["with bytecode"])
    print(f"  saved          {saved:7.1f} ms per cold start")


if __name__ == "__main__":
    main()
