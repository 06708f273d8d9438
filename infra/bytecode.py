"""Bytecode for the Lambda runtime, compiled at synthesis: a cold start that does not compile.

Lambda's `/var/task` and `/opt` are read-only: a function shipped as source compiles every
module it imports on every cold start, and cannot keep the result. Compiled here by the
runtime's own Python version (`python3.13`: see `runtime_interpreter`), as
unchecked-hash `.pyc` files (PEP 552): deterministic (the same sources give the same asset
hash) and loaded without comparing file times, which the asset copy does not keep. Measured
with `benchmarks/bytecode.py`: the access-entry handler's import and build about 38 ms (CPU, a
quarter) faster.

Without that interpreter the assets are source only (as before) and synthesis says so; nothing
else changes. Bytecode of another Python version would be ignored by the runtime anyway.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The functions' runtime (`lambda_.Runtime.PYTHON_3_13`).
RUNTIME_VERSION = (3, 13)


@functools.cache
def runtime_interpreter() -> str | None:
    """A Python of the runtime's version that runs: `EKS_GUARDRAIL_RUNTIME_PYTHON`, `python3.13` on
    PATH (a pyenv shim whose version is not selected does not run), or pyenv's own 3.13 install."""
    major, minor = RUNTIME_VERSION
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [os.environ.get("EKS_GUARDRAIL_RUNTIME_PYTHON"), shutil.which(f"python{major}.{minor}")]
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{major}.{minor}.*/bin/python{major}.{minor}"), reverse=True)]
    return next((c for c in candidates if c and _runs_as_runtime(c)), None)


def _runs_as_runtime(interpreter: str) -> bool:
    try:
        answer = subprocess.run([interpreter, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == str(RUNTIME_VERSION)


def compile_for_runtime(directory: Path, *, interpreter: str | None = None) -> bool:
    """Compile every `.py` below `directory` for the runtime; False (and a notice) without its Python."""
    interpreter = interpreter or runtime_interpreter()
    if interpreter is None:
        _notice_once()
        return False
    subprocess.run(
        [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return True


@functools.cache
def _notice_once() -> None:
    major, minor = RUNTIME_VERSION
    print(
        f"eks-guardrail: no python{major}.{minor} found: the Lambda code and layer ship as source only, so every "
        f"cold start compiles them (install Python {major}.{minor}, e.g. `pyenv install {major}.{minor}`, or name one in EKS_GUARDRAIL_RUNTIME_PYTHON, to ship bytecode)",
        file=sys.stderr,
    )
