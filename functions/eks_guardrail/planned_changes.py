"""Changes that have not happened yet (a migration plan's entries, later IaC resources), as the typed changes
the event path builds: every rule judges them exactly as it judges CloudTrail events, with no rule logic copied."""

from __future__ import annotations

from datetime import datetime, timezone

from .arns import parse_principal_arn
from .changes import AccessEntryCreated, AccessPolicyAssociated, AccessScope, Actor, EventMeta

EKS_SOURCE = "eks.amazonaws.com"


def planned_actor(arn: str | None, account: str) -> Actor:
    """Who will make the change: an IAM user, an assumed-role session (its role as the issuer) or the account root."""
    if not arn:
        return Actor("Unknown", f"arn:aws:iam::{account}:root", account)
    parts = arn.split(":")
    actor_account = parts[4] if len(parts) > 5 else account
    if ":assumed-role/" in arn:
        role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        return Actor("AssumedRole", arn, actor_account, f"arn:aws:iam::{actor_account}:role/{role}")
    principal = parse_principal_arn(arn)
    if principal is not None and principal.is_user:
        return Actor("IAMUser", arn, actor_account)
    if arn.endswith(":root"):
        return Actor("Root", arn, actor_account)
    return Actor("Unknown", arn, actor_account)


def planned_meta(event_name: str, *, ref: str, account: str, region: str, actor: Actor) -> EventMeta:
    """`ref` names the plan item (e.g. `aws-auth mapRoles[2]`) where an event would carry its id."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return EventMeta(event_id=ref, event_name=event_name, event_source=EKS_SOURCE, event_time=now, account=account, region=region, actor=actor)


def planned_entry(
    *, cluster: str, principal_arn: str, entry_type: str, username: str | None, groups: tuple[str, ...], meta: EventMeta
) -> AccessEntryCreated:
    return AccessEntryCreated(
        meta=meta, cluster=cluster, principal_arn=principal_arn, entry_type=entry_type, username=username, kubernetes_groups=groups
    )


def planned_association(
    *, cluster: str, principal_arn: str, policy_arn: str, scope_type: str, namespaces: tuple[str, ...], meta: EventMeta
) -> AccessPolicyAssociated:
    return AccessPolicyAssociated(
        meta=meta, cluster=cluster, principal_arn=principal_arn, policy_arn=policy_arn, scope=AccessScope(scope_type, tuple(namespaces))
    )
