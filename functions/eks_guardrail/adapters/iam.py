"""IAM principals as the rules need them: do they exist, since when, which id (stale-principal),
which services their trust policy lets assume them (node-entry-principal)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable
from urllib.parse import unquote

from botocore.exceptions import ClientError

from ..arns import parse_principal_arn, wildcard_match


@dataclass(frozen=True)
class PrincipalStatus:
    arn: str
    exists: bool
    create_date: datetime | None = None
    unique_id: str | None = None
    #: The current ARN (with its path) when it exists.
    current_arn: str | None = None
    #: Roles: the service principals its trust policy lets assume it (None: a user, or unknown).
    trusted_services: frozenset[str] | None = None


class IamPrincipals:
    """Looks principals up by name (paths do not matter: a name is unique in an account).

    Answers (and failures) are cached for the lifetime of the object: one sweep or one event.
    Safe to share between threads: concurrent questions about one principal make one call.
    """

    def __init__(self, iam_client: Any, account: str):
        self._iam = iam_client
        self._account = account
        self._cache: dict[tuple[str, str], Future] = {}
        self._lock = threading.Lock()

    def status(self, principal_arn: str) -> PrincipalStatus | None:
        """None for principals this account cannot look up (other accounts, non-IAM ARNs):
        a trusted partner's role is never judged by the name of a local one."""
        principal = parse_principal_arn(principal_arn)
        if principal is None or principal.kind not in ("role", "user") or principal.service != "iam":
            return None
        if principal.account != self._account:
            return None
        key = (principal.kind, principal.name)
        with self._lock:
            answer = self._cache.get(key)
            asking = answer is None
            if asking:
                answer = self._cache[key] = Future()
        if asking:
            try:
                answer.set_result(self._lookup(principal_arn, principal.kind, principal.name))
            except Exception as error:  # e.g. iam:GetRole denied: every asker gets it
                answer.set_exception(error)
        return answer.result()

    def forget_failures(self) -> None:
        """Drop the failed lookups (a throttle, a denial): asked again next time; answers are kept."""
        with self._lock:
            for key, answer in list(self._cache.items()):
                if answer.done() and answer.exception() is not None:
                    del self._cache[key]

    def look_up(self, principal_arns: Iterable[str], pool: Executor) -> None:
        """Ask about many principals at once (answers cached; failures re-raised when asked again)."""
        for future in [pool.submit(self.status, arn) for arn in set(principal_arns)]:
            future.exception()

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
        trusted = _trusted_services(data.get("AssumeRolePolicyDocument")) if kind == "role" else None
        return PrincipalStatus(arn, True, data.get("CreateDate"), unique_id, data.get("Arn"), trusted)

    def trusted_services(self, principal_arn: str) -> frozenset[str] | None:
        """Service principals the role's trust policy allows to assume it (node roles trust
        `ec2.amazonaws.com`, pod execution roles `eks-fargate-pods.amazonaws.com`, ...); None
        when unknown (a user, another account's role, a role that does not exist)."""
        status = self.status(principal_arn)
        return status.trusted_services if status is not None and status.exists else None


#: Actions that let a trusted principal take up the role (`sts:TagSession` alone appears in
#: trust policies of services that assume with session tags, e.g. IAM Roles Anywhere).
_ASSUME_ACTIONS = ("sts:assumerole", "sts:tagsession")


def _trusted_services(document: Any) -> frozenset[str]:
    """`Principal.Service` of the Allow statements granting sts:AssumeRole or sts:TagSession
    (`sts:*`, `*` and other wildcards included; IAM action names are case-insensitive).

    GetRole returns the trust policy URL-encoded; botocore decodes it into a dict
    (`json_decode_policies` on every IAM response), a string is decoded here too."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return frozenset()
    statements = _as_list(document.get("Statement") if isinstance(document, dict) else None)
    services: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        if not any(wildcard_match(pattern, action) for pattern in actions for action in _ASSUME_ACTIONS):
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            services.update(s for s in _as_list(principal.get("Service")) if isinstance(s, str))
    return frozenset(services)


def _as_list(value: Any) -> list[Any]:
    """Policy elements are a single value or a list of them."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
