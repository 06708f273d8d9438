"""`eks-guardrail`: the command line. Each subcommand lives in its own module.

Only the module of the command being run is imported: `evaluate` must not pay for the AWS
SDK that `scan` needs, nor `--help` for any of them. The other commands are listed by
name and one-line help (`COMMANDS`, the same line each module registers).
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Iterable, Sequence

from .. import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

#: Command -> the line `eks-guardrail --help` shows for it, in that order. The module is the
#: command's name with `_` for `-` (`local-aws`: `local_aws.py`) and has `register(commands)`.
COMMANDS: dict[str, str] = {
    "demo": "run the whole guardrail offline on the emulator (needs the 'local' extra)",
    "evaluate": "evaluate CloudTrail events (files, directories, s3:// prefixes, stdin) against the org rules",
    "history": "judge the account's CloudTrail Event history (90 days) and backtest what enforce would have done",
    "iac": "judge Terraform plans, CloudFormation templates and cdk.out against the org rules before applying them",
    "scan": "evaluate every cluster's access entries against the org rules (read-only)",
    "inventory": "list who can reach which cluster, with which policies, groups and username",
    "doctor": "check, read-only, that an account gives the guardrail what it needs",
    "replay": "re-drive dead-letter messages through the guardrail's functions (safe to run twice)",
    "migrate": "move a cluster from the aws-auth ConfigMap to access entries: plan, apply, verify",
    "scp": "write the org rules as Service Control Policies (and a permissions boundary)",
    "local-aws": "serve an offline AWS (moto + EKS access entries) on 127.0.0.1",
}


def build_parser(loaded: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser. The commands in `loaded` (default: all) get their own arguments, which imports
    their modules; the others are only listed, for `--help` and for "invalid choice"."""
    loaded = set(COMMANDS if loaded is None else loaded)
    parser = argparse.ArgumentParser(
        prog="eks-guardrail",
        description="Guardrail for Amazon EKS access entries: evaluate, emulate, enforce.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_line in COMMANDS.items():
        if name in loaded:
            import_module(f"{__name__}.{name.replace('-', '_')}").register(commands)
        else:
            commands.add_parser(name, help=help_line, add_help=False)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` runs: its first argument that is not an option (the top-level options,
    --help and --version, take no value), when it names one."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = command_in(argv)
    parser = build_parser([command] if command else [])
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
