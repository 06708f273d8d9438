"""What `scan` and `inventory` share: credentials, regions, progress, the read itself."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # boto3 and the AWS glue load only when a command reads the account, not for --help
    from ..adapters.eks import EksAccessEntries
    from ..sweep.snapshot import ClusterRef


def default_region(session: Any) -> str | None:
    """The session's region (profile, AWS_DEFAULT_REGION), else AWS_REGION."""
    return session.region_name or os.environ.get("AWS_REGION")


class AccountError(RuntimeError):
    """No usable credentials, region or endpoint: says what to set."""


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--regions",
        nargs="+",
        metavar="REGION",
        help="regions to read (default: the configured region, AWS_REGION / AWS_DEFAULT_REGION)",
    )
    parser.add_argument("--workers", type=int, default=4, help="clusters read at once (default: 4)")


class AccountReader:
    """boto3's default credential chain; `AWS_ENDPOINT_URL` points it at `eks-guardrail local-aws`."""

    def __init__(self, regions: list[str] | None):
        import boto3

        from ..adapters.eks import eks_access_for
        from ..clients import SWEEP_RETRIES, ClientFactory

        self.session = boto3.session.Session()
        self.clients = ClientFactory(self.session, config=SWEEP_RETRIES)
        self._eks_for_region = eks_access_for(self.clients)
        self.regions = regions or ([self.session.region_name] if self.session.region_name else [])
        if not self.regions:
            raise AccountError("no region: pass --regions, or set AWS_REGION (or AWS_DEFAULT_REGION)")

    def eks_for_region(self, region: str) -> EksAccessEntries:
        return self._eks_for_region(region)

    def account(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        try:
            return self.clients.client("sts", self.regions[0]).get_caller_identity()["Account"]
        except NoCredentialsError:
            raise AccountError("no AWS credentials: configure a profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
        except NoRegionError:
            raise AccountError("no region: pass --regions, or set AWS_REGION") from None
        except (ClientError, BotoCoreError) as error:
            raise AccountError(f"cannot identify the account: {error}") from None


class ProgressBar:
    """`[#####.....] 5/10 eu-west-1/prod` on stderr, redrawn in place; silent when not a terminal."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30, force: bool = False):
        self.label, self.stream, self.width = label, stream, width
        self.enabled = force or stream.isatty()

    def __call__(self, done: int, total: int, ref: ClusterRef) -> None:
        if not self.enabled or total == 0:
            return
        filled = int(self.width * done / total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {ref.region}/{ref.name}\033[K")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()
