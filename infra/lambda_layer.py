"""The functions' third-party packages, as a Lambda layer built at synth time from the pinned, installed distributions.

What reaches Lambda is what the tests ran: the layer holds the very files of the distributions
installed in the environment that synthesises (the one `pip install -e '.[cdk]'` or `.[dev]`
made from `pyproject.toml`), and synthesis stops unless each of them is pinned there with
`==` and installed at exactly that version. Pure Python, no Docker, no download.

- Roots: `aws-lambda-powertools` with its `tracer` extra (the X-Ray SDK, loaded only when
  `deployment.tracing` is on); the layer is their dependency closure, evaluated for Lambda
  (python3.13, Linux, arm64).
- Left out: what the python3.13 runtime already has (its boto3 and boto3's dependencies), and
  compiled extension modules (`*.so`): the wheels installed here are built for this machine,
  not for Lambda's arm64. The only one today is wrapt's optional `_wrappers` extension; wrapt
  falls back to its pure-Python implementation, and `tests/infra/test_lambda_parity.py` imports
  the functions in an emulated Lambda path (asset + layer + runtime SDK only) to prove it.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.metadata as metadata
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .bytecode import compile_for_runtime

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

#: Distribution -> extras: what the functions import beyond the standard library and the runtime's SDK.
LAYER_ROOTS: Mapping[str, frozenset[str]] = {"aws-lambda-powertools": frozenset({"tracer"})}

#: The python3.13 runtime's SDK: boto3 and its dependencies. Never shipped (the runtime's copy is used).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "jmespath", "python-dateutil", "s3transfer", "six", "urllib3"})

#: The environment the functions run in, for environment markers (`; python_version < "3.12"`).
LAMBDA_MARKER_ENVIRONMENT = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
}

#: Files never copied into the layer: this machine's bytecode (the runtime's is compiled at synthesis,
#: `bytecode.py`) and extension modules built for this machine.
EXCLUDED_SUFFIXES = (".pyc", ".so", ".pyd")


class LayerDriftError(Exception):
    """The installed distributions are not the pinned ones: the layer would differ from what the tests ran."""


@dataclass(frozen=True)
class LayerDistribution:
    name: str  # canonical, e.g. "aws-lambda-powertools"
    version: str
    required_by: str  # "" for a root


@dataclass(frozen=True)
class DependenciesLayer:
    directory: Path  # holds `python/...`, the layout Lambda adds to sys.path
    distributions: tuple[LayerDistribution, ...]

    @property
    def description(self) -> str:
        listed = ", ".join(f"{d.name} {d.version}" for d in self.distributions)
        return f"eks-guardrail Lambda dependencies (pinned in pyproject.toml): {listed}"[:256]

    def version_of(self, name: str) -> str:
        return next(d.version for d in self.distributions if d.name == canonicalize_name(name))


def exact_pins(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """`name==version` requirements of `[project].dependencies`, by canonical name."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins: dict[str, str] = {}
    for text in dependencies:
        requirement = Requirement(text)
        (specifier, *more) = list(requirement.specifier) or [None]
        if specifier is not None and not more and specifier.operator == "==" and "*" not in specifier.version:
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    marker: Marker = requirement.marker
    return any(marker.evaluate({**LAMBDA_MARKER_ENVIRONMENT, "extra": extra}) for extra in (*extras, ""))


def layer_distributions(roots: Mapping[str, frozenset[str]] = LAYER_ROOTS) -> list[LayerDistribution]:
    """The roots and their dependency closure for Lambda, minus the runtime's SDK, as installed here."""
    found: dict[str, LayerDistribution] = {}
    queue: list[tuple[str, frozenset[str], str]] = [(name, extras, "") for name, extras in roots.items()]
    while queue:
        name, extras, required_by = queue.pop(0)
        name = canonicalize_name(name)
        if name in RUNTIME_PROVIDED or name in found:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise LayerDriftError(
                f"{name} (needed by {required_by or 'the functions'}) is not installed: run `pip install -e '.[cdk]'`"
            ) from None
        found[name] = LayerDistribution(name, distribution.version, required_by)
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if _applies(requirement, extras):
                queue.append((requirement.name, frozenset(requirement.extras), name))
    return sorted(found.values(), key=lambda d: d.name)


def check_pinned(distributions: Iterable[LayerDistribution], pins: Mapping[str, str]) -> None:
    """Every layer distribution pinned with `==` in pyproject.toml and installed at exactly that version."""
    problems = []
    for d in distributions:
        why = f" (needed by {d.required_by})" if d.required_by else ""
        pinned = pins.get(d.name)
        if pinned is None:
            problems.append(f"{d.name}{why} goes into the Lambda layer but pyproject.toml has no `{d.name}=={d.version}` pin")
        elif pinned != d.version:
            problems.append(f"{d.name}: pyproject.toml pins {pinned} but {d.version} is installed")
    if problems:
        raise LayerDriftError(
            "the Lambda layer would not be what the tests ran:\n  - "
            + "\n  - ".join(problems)
            + "\nPin exactly in pyproject.toml's dependencies, then `pip install -e '.[cdk]'` (or '.[dev]') again."
        )


def _layer_files(name: str) -> list[tuple[Path, str]]:
    """(installed file, path in the layer's `python/`) for one distribution: its modules and its METADATA."""
    distribution = metadata.distribution(name)
    out = []
    for file in distribution.files or []:
        relative = str(file)
        if relative.startswith("..") or "__pycache__" in file.parts or relative.endswith(EXCLUDED_SUFFIXES):
            continue
        if file.parts[0].endswith(".dist-info") and file.name != "METADATA":
            continue  # RECORD, INSTALLER, REQUESTED: written by the installer, they differ between machines
        out.append((Path(file.locate()), relative))
    return out


def staging_directory(prefix: str) -> Path:
    """A temporary directory for an asset, removed when the process ends (the CDK copies assets into cdk.out)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, directory, True)
    return directory


@functools.cache
def build_dependencies_layer(pyproject: Path = PYPROJECT) -> DependenciesLayer:
    """Stage the layer's files (once per process); raises `LayerDriftError` when they are not the pinned ones."""
    distributions = layer_distributions()
    check_pinned(distributions, exact_pins(pyproject))
    digest = hashlib.sha256(repr([(d.name, d.version) for d in distributions]).encode()).hexdigest()[:12]
    directory = staging_directory(f"eks-guardrail-layer-{digest}-")
    for d in distributions:
        for source, relative in _layer_files(d.name):
            target = directory / "python" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    compile_for_runtime(directory / "python")
    return DependenciesLayer(directory, tuple(distributions))

