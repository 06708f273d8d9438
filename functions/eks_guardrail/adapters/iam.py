"""IAM principals as the stale-principal rule needs them: do they exist, since when, which id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..arns import parse_principal_arn


@dataclass(frozen=True)
class PrincipalStatus:
    arn: str
    exists: bool
    create_date: datetime | None = None
    unique_id: str | None = None
    #: The current ARN (with its path) when it exists.
    current_arn: str | None = None


class IamPrincipals:
    """Looks principals up by name (paths do not matter: a name is unique in an account).

    Answers are cached for the lifetime of the object: one sweep or one event.
    """

    def __init__(self, iam_client: Any, account: str):
        self._iam = iam_client
        self._account = account
        self._cache: dict[tuple[str, str], PrincipalStatus] = {}

    def status(self, principal_arn: str) -> PrincipalStatus | None:
        """None for principals this account cannot look up (other accounts, non-IAM ARNs):
        a trusted partner's role is never judged by the name of a local one."""
        principal = parse_principal_arn(principal_arn)
        if principal is None or principal.kind not in ("role", "user") or principal.service != "iam":
            return None
        if principal.account != self._account:
            return None
        key = (principal.kind, principal.name)
        if key not in self._cache:
            self._cache[key] = self._lookup(principal_arn, principal.kind, principal.name)
        return self._cache[key]

    def _lookup(self, arn: str, kind: str, name: str) -> PrincipalStatus:
        try:
            if kind == "role":
                data = self._iam.get_role(RoleName=name)["Role"]
                unique_id = data.get("RoleId")
            else:
                data = self._iam.get_user(UserName=name)["User"]
                unique_id = data.get("UserId")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return PrincipalStatus(arn, exists=False)
            raise
        return PrincipalStatus(arn, True, data.get("CreateDate"), unique_id, data.get("Arn"))
