"""Lambda runs what the tests ran: the functions' layer is built from the pinned, installed distributions.

The functions' code imports, on Lambda's path (asset, layer, the runtime's boto3: nothing else),
every module it ships, and the tracing path; the layer in the cloud assembly holds exactly the
versions pinned in pyproject.toml, which are the ones installed here; a pin that drifts from
what is installed stops synthesis.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bytecode import runtime_interpreter
from infra.lambda_layer import (
    EXCLUDED_SUFFIXES,
    PYPROJECT,
    RUNTIME_PROVIDED,
    LayerDistribution,
    LayerDriftError,
    build_dependencies_layer,
    check_pinned,
    exact_pins,
    layer_distributions,
)


def _asset(synth, marker: str) -> Path:
    (asset,) = {p.parents[len(Path(marker).parts) - 1] for p in synth.outdir.glob(f"asset.*/{marker}")}
    return asset


# --- pins -------------------------------------------------------------------------------------


def test_powertools_is_pinned_exactly_and_the_tests_run_that_version():
    pins = exact_pins()
    assert "aws-lambda-powertools" in pins, "pyproject.toml must pin aws-lambda-powertools with =="
    assert metadata.version("aws-lambda-powertools") == pins["aws-lambda-powertools"]
    import aws_lambda_powertools.shared.version as powertools_version

    assert powertools_version.VERSION == pins["aws-lambda-powertools"]


def test_the_layer_is_powertools_and_its_dependencies_for_lambda_less_the_runtime_sdk():
    names = {d.name for d in layer_distributions()}
    assert {"aws-lambda-powertools", "typing-extensions", "aws-xray-sdk", "wrapt"} <= names
    assert not names & RUNTIME_PROVIDED  # jmespath, botocore...: the runtime's
    assert not names & {"pydantic", "cryptography", "boto3"}  # extras the functions do not use stay out
    check_pinned(layer_distributions(), exact_pins())  # installed == pinned, for every one of them


def test_a_version_installed_other_than_its_pin_stops_synthesis():
    distributions = [LayerDistribution("aws-lambda-powertools", "3.37.0", ""), LayerDistribution("wrapt", "2.5.2", "aws-xray-sdk")]
    with pytest.raises(LayerDriftError, match=r"aws-lambda-powertools: pyproject.toml pins 3.23.0 but 3.37.0 is installed"):
        check_pinned(distributions, {"aws-lambda-powertools": "3.23.0", "wrapt": "2.5.2"})
    with pytest.raises(LayerDriftError, match=r"wrapt \(needed by aws-xray-sdk\) goes into the Lambda layer but pyproject.toml has no `wrapt==2.5.2` pin"):
        check_pinned(distributions, {"aws-lambda-powertools": "3.37.0"})
    check_pinned(distributions, {"aws-lambda-powertools": "3.37.0", "wrapt": "2.5.2"})


def test_a_pyproject_pinning_another_powertools_cannot_be_synthesised(tmp_path):
    text = PYPROJECT.read_text(encoding="utf-8")
    pinned = exact_pins()["aws-lambda-powertools"]
    drifted = tmp_path / "pyproject.toml"
    drifted.write_text(text.replace(f"aws-lambda-powertools[tracer]=={pinned}", "aws-lambda-powertools[tracer]==3.23.0"))
    with pytest.raises(LayerDriftError, match=f"pins 3.23.0 but {pinned} is installed"):
        build_dependencies_layer(drifted)
    loose = tmp_path / "loose" / "pyproject.toml"
    loose.parent.mkdir()
    loose.write_text(text.replace(f"aws-lambda-powertools[tracer]=={pinned}", "aws-lambda-powertools[tracer]>=3.4,<4"))
    with pytest.raises(LayerDriftError, match="has no `aws-lambda-powertools=="):
        build_dependencies_layer(loose)


# --- the layer in the cloud assembly ----------------------------------------------------------


def test_every_function_gets_the_layer_and_it_holds_the_pinned_versions(synth):
    layer = _asset(synth, "python/aws_lambda_powertools") / "python"
    pins = exact_pins()
    shipped_versions = {_metadata_name(p): _metadata_field(p, "Version") for p in layer.glob("*.dist-info/METADATA")}
    assert shipped_versions == {d.name: pins[d.name] for d in layer_distributions()}
    shipped = {p.name for p in layer.iterdir()}
    assert not shipped & {"boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3"}
    # nothing of this machine: no extension module, no bytecode but the runtime's (compiled at synthesis)
    foreign = [p for p in layer.rglob("*") if p.name.endswith(EXCLUDED_SUFFIXES) and not p.name.endswith(".cpython-313.pyc")]
    assert not foreign, foreign[:5]
    for stack in synth.stacks:
        functions = synth.resources(stack, "AWS::Lambda::Function").values()
        if not functions:
            continue  # the IAM forwarder has none
        (layer_id,) = [k for k in synth.resources(stack, "AWS::Lambda::LayerVersion") if k.startswith("Dependencies")]
        assert synth.resources(stack, "AWS::Lambda::LayerVersion")[layer_id]["Properties"]["Description"].startswith(
            f"eks-guardrail Lambda dependencies (pinned in pyproject.toml): aws-lambda-powertools {pins['aws-lambda-powertools']}"
        )
        for props in (f["Properties"] for f in functions):
            assert {"Ref": layer_id} in props["Layers"]


def _metadata_field(path: Path, field: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(f"{field}:"))


def _metadata_name(path: Path) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(_metadata_field(path, "Name"))


# --- the functions on Lambda's path -----------------------------------------------------------

#: Runs with `python -I -S -B` (no bytecode written: /var/task is read-only): the standard library, then exactly the paths given (asset, layer, runtime SDK).
PROBE = r"""
import importlib, json, os, sys
asset, layer, runtime = sys.argv[1:4]
sys.path[:0] = [asset, layer, runtime]
modules = []
for root, _dirs, files in os.walk(os.path.join(asset, "eks_guardrail")):
    for file in sorted(files):
        if not file.endswith(".py"):
            continue
        parts = os.path.relpath(os.path.join(root, file[:-3]), asset).split(os.sep)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or parts[1:2] == ["cli"]:
            continue
        modules.append(".".join(parts))
for name in sorted(modules):
    importlib.import_module(name)

# The tracing path (deployment.tracing: true): Powertools Tracer with the X-Ray SDK, wrapt without its C extension.
os.environ.update({"AWS_LAMBDA_FUNCTION_NAME": "probe", "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                   "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"})
from aws_lambda_powertools import Tracer
tracer = Tracer(service="probe")
traced = tracer.capture_method(lambda event, context: {"status": "ok", "event": event})
assert traced({"n": 1}, None) == {"status": "ok", "event": {"n": 1}}
import wrapt

origin = {}
for name, module in list(sys.modules.items()):
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in ("__main__",) or name != top:
        continue
    file = getattr(module, "__file__", None) or ""
    origin[top] = next((label for label, path in (("asset", asset), ("layer", layer), ("runtime", runtime)) if file.startswith(path)), file or "builtin")
print(json.dumps({"modules": sorted(modules), "origin": origin, "wrapt_extension": bool(getattr(wrapt, "_wrappers", None))}))
"""


def _runtime_sdk(directory: Path) -> Path:
    """The runtime's boto3 and its dependencies, and nothing else, as a path entry (symlinks to this venv's copies)."""
    directory.mkdir()
    for name in RUNTIME_PROVIDED:
        for file in metadata.distribution(name).files or []:
            top = file.parts[0]
            if top.startswith("..") or top.endswith((".dist-info", ".pth")) or top == "__pycache__":
                continue
            link = directory / top
            if not link.exists():
                link.symlink_to(Path(file.locate()).parents[len(file.parts) - 1] / top)
    return directory


def test_the_functions_import_with_only_the_asset_the_layer_and_the_runtime_sdk(synth, tmp_path):
    asset = _asset(synth, "eks_guardrail/handlers")
    layer = _asset(synth, "python/aws_lambda_powertools") / "python"
    runtime = _runtime_sdk(tmp_path / "runtime")
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(asset), str(layer), str(runtime)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"eks_guardrail.handlers.access_entry", "eks_guardrail.handlers.iam_principal", "eks_guardrail.handlers.sweep"} <= set(report["modules"])
    origin = report["origin"]
    assert origin["eks_guardrail"] == "asset"
    for top in ("aws_lambda_powertools", "typing_extensions", "aws_xray_sdk", "wrapt"):
        assert origin[top] == "layer", (top, origin.get(top))
    assert origin["botocore"] == "runtime" and origin.get("boto3", "runtime") == "runtime"  # boto3: only with idempotency
    outside = {top: where for top, where in origin.items() if where not in ("asset", "layer", "runtime", "builtin")}
    assert not outside, outside  # -I -S: nothing from site-packages can have been imported
    assert report["wrapt_extension"] is False  # the pure-Python wrapt the layer ships


# --- bytecode for the runtime (infra/bytecode.py) -------------------------------------------

def _pyc_flags(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[4:8], "little")


@pytest.mark.skipif(runtime_interpreter() is None, reason="no python3.13 on this machine: the assets ship as source")
def test_the_assets_carry_unchecked_hash_bytecode_of_the_runtime(synth):
    code = _asset(synth, "eks_guardrail/handlers")
    layer = _asset(synth, "python/aws_lambda_powertools") / "python"
    for root in (code / "eks_guardrail", layer / "aws_lambda_powertools"):
        sources = list(root.rglob("*.py"))
        assert sources
        for source in sources:
            compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            assert compiled.exists(), compiled
            assert _pyc_flags(compiled) == 0b01, compiled  # hash-based, source not checked (PEP 552)
    assert not list(code.rglob("*.cpython-311.pyc"))  # nothing of this machine's own Python


@pytest.mark.skipif(runtime_interpreter() is None, reason="no python3.13 on this machine: the assets ship as source")
def test_the_runtime_imports_the_functions_modules_without_compiling_them(synth):
    """With /var/task read-only, as on Lambda: no module of the asset is compiled from source."""
    code = _asset(synth, "eks_guardrail/handlers")
    probe = (
        "import sys, importlib._bootstrap_external as ext\n"
        "compiled = []\n"
        "real = ext.SourceLoader.source_to_code\n"
        "ext.SourceLoader.source_to_code = lambda self, data, path, **kw: (compiled.append(path), real(self, data, path, **kw))[1]\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import eks_guardrail.engine, eks_guardrail.config, eks_guardrail.changes, eks_guardrail.rules\n"
        "print([p for p in compiled if p.startswith(sys.argv[1])])\n"
        "print(len([m for m in sys.modules if m.startswith('eks_guardrail')]))\n"
    )
    result = subprocess.run([runtime_interpreter(), "-I", "-S", "-B", "-c", probe, str(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    compiled, modules = result.stdout.strip().splitlines()
    assert compiled == "[]" and int(modules) > 20


def test_without_the_runtimes_python_the_assets_are_source_and_synthesis_says_so(tmp_path, capsys, monkeypatch):
    from infra import bytecode

    (tmp_path / "m.py").write_text("X = 1\n")
    monkeypatch.setattr(bytecode, "runtime_interpreter", lambda: None)
    bytecode._notice_once.cache_clear()

    assert bytecode.compile_for_runtime(tmp_path) is False
    assert not list(tmp_path.rglob("*.pyc"))
    assert "no python3.13 found" in capsys.readouterr().err
