"""`eks-guardrail local-aws`: moto plus the EKS access-entry emulator as a local endpoint."""

from __future__ import annotations

import argparse
import sys


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "local-aws",
        help="serve an offline AWS (moto + EKS access entries) on 127.0.0.1",
        description=(
            "Serve moto plus the EKS access-entry emulator over HTTP, so that any SDK or the AWS CLI "
            "can use it: AWS_ENDPOINT_URL=http://127.0.0.1:PORT aws eks list-access-entries ... "
            "Needs the 'local' extra (pip install 'eks-guardrail[local]'). Stop with Ctrl-C."
        ),
    )
    parser.add_argument("--port", type=int, default=5000, help="TCP port to listen on (default: 5000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..local.server import run_server
    except ImportError as error:
        print(
            f"eks-guardrail local-aws needs the 'local' extra: pip install 'eks-guardrail[local]' ({error})",
            file=sys.stderr,
        )
        return 2
    return run_server(host=args.host, port=args.port)
