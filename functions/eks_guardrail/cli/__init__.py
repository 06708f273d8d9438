"""`eks-guardrail`: the command line. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .. import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from . import demo, doctor, evaluate, history, iac, inventory, local_aws, migrate, replay, scan, scp

    parser = argparse.ArgumentParser(
        prog="eks-guardrail",
        description="Guardrail for Amazon EKS access entries: evaluate, emulate, enforce.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (demo, evaluate, history, iac, scan, inventory, doctor, replay, migrate, scp, local_aws):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
