"""The Lambda asset imports only what Lambda has: the stdlib, boto3 (runtime) and the Powertools layer."""

from __future__ import annotations

import json
import subprocess
import sys

#: The python3.13 runtime's SDK (boto3 and its dependencies) and the Powertools layer
#: (aws-lambda-powertools[all], built without boto*: see infra/naming.py).
AVAILABLE_ON_LAMBDA = {
    "boto3", "botocore", "jmespath", "dateutil", "s3transfer", "six", "urllib3",
    "aws_lambda_powertools", "typing_extensions", "pydantic", "pydantic_core", "annotated_types",
    "certifi",  # botocore tries it and falls back to its own CA bundle
}

PROBE = r"""
import importlib, json, sys
from pathlib import Path
asset = Path(sys.argv[1])
sys.path.insert(0, str(asset))
modules = []
for path in sorted((asset / "eks_guardrail").rglob("*.py")):
    parts = path.relative_to(asset).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts[-1] == "__main__" or parts[1:2] == ("cli",):
        continue
    modules.append(".".join(parts))
for name in modules:
    module = importlib.import_module(name)
    assert str(asset) in module.__file__, (name, module.__file__)
third_party = sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names) - {"__main__", "eks_guardrail"})
print(json.dumps({"modules": modules, "third_party": third_party}))
"""


def test_asset_modules_import_only_what_lambda_has(synth):
    (asset,) = {p.parent.parent for p in synth.outdir.glob("asset.*/eks_guardrail/handlers")}
    result = subprocess.run([sys.executable, "-c", PROBE, str(asset)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "eks_guardrail.handlers.access_entry" in report["modules"]
    unexpected = set(report["third_party"]) - AVAILABLE_ON_LAMBDA
    # Private C extension helpers of the above (e.g. `_cffi_backend`) would show up with a leading underscore.
    assert not {m for m in unexpected if not m.startswith("_")}, unexpected
