"""An in-memory EKS account behind the adapter's interface (`EksAccessEntries`), for property
tests that need thousands of sequences: every write by a named identity becomes the typed
change CloudTrail would deliver. The validation kept is what decides what an attacker can
do (duplicate principals, AWS's reserved prefixes, policies only on STANDARD entries, node
entries' fixed username and group); the emulator's conformance tests cover the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from eks_guardrail.arns import parse_principal_arn
from eks_guardrail.aws_catalog import AWS_RESERVED_PREFIXES
from eks_guardrail.changes import (
    AccessEntryCreated,
    AccessEntryDeleted,
    AccessEntryUpdated,
    AccessPolicyAssociated,
    AccessPolicyDisassociated,
    AccessScope,
    Actor,
    EventMeta,
    ResourceTagged,
)
from eks_guardrail.state import Association, ClusterState, EntryState

ACCOUNT = "123456789012"
REGION = "eu-west-1"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def role(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


@dataclass
class FakeAccount:
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[tuple[str, str], EntryState] = field(default_factory=dict)
    #: Changes made since the last `take_events()`, as CloudTrail would deliver them.
    events: list[Any] = field(default_factory=list)
    now: datetime = START
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def create_cluster(self, name: str) -> None:
        self.clusters[name] = {"mode": "API", "tags": {}, "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}"}

    def as_(self, actor_role: str) -> "FakeEks":
        return FakeEks(self, actor_role)

    def take_events(self) -> list[Any]:
        events, self.events = self.events, []
        return events

    def tick(self) -> datetime:
        self.now += timedelta(seconds=2)
        return self.now

    def meta(self, name: str, actor_role: str) -> EventMeta:
        actor = Actor("AssumedRole", actor_role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/session", ACCOUNT, actor_role)
        return EventMeta(f"event-{next(self._ids)}", name, "eks.amazonaws.com", self.now.strftime("%Y-%m-%dT%H:%M:%SZ"), ACCOUNT, REGION, actor)


class FakeEks:
    """`EksAccessEntries` over a `FakeAccount`, acting as one identity."""

    def __init__(self, account: FakeAccount, actor_role: str):
        self.account = account
        self.actor = actor_role

    # --- reads --------------------------------------------------------------------------------

    def describe_cluster(self, cluster: str) -> ClusterState | None:
        data = self.account.clusters.get(cluster)
        return ClusterState(cluster, data["mode"], dict(data["tags"]), "ACTIVE", data["arn"]) if data else None

    def list_clusters(self):
        return iter(sorted(self.account.clusters))

    def list_principals(self, cluster: str, associated_policy_arn: str | None = None) -> list[str]:
        return sorted(
            p for (c, p), e in self.account.entries.items()
            if c == cluster and (associated_policy_arn is None or e.association(associated_policy_arn) is not None)
        )

    def associations(self, cluster: str, principal_arn: str) -> tuple[Association, ...]:
        entry = self.account.entries.get((cluster, principal_arn))
        return entry.associations if entry else ()

    def describe_entry(self, cluster: str, principal_arn: str, *, with_associations: bool = True) -> EntryState | None:
        entry = self.account.entries.get((cluster, principal_arn))
        if entry is None:
            return None
        return entry if with_associations else replace(entry, associations=())

    # --- writes -------------------------------------------------------------------------------

    def create_entry(self, entry: EntryState, *, with_associations: bool = True) -> None:
        key = (entry.cluster, entry.principal_arn)
        if key in self.account.entries:
            raise _error("ResourceInUseException", "The specified access entry resource is already in use on this cluster.", "CreateAccessEntry")
        names = ([entry.username] if entry.username else []) + list(entry.groups)
        if entry.entry_type == "STANDARD" and any(n.startswith(AWS_RESERVED_PREFIXES) for n in names):
            raise _error("InvalidParameterException", "reserved prefix", "CreateAccessEntry")
        now = self.account.tick()
        username, groups = entry.username, entry.groups
        if entry.entry_type != "STANDARD":
            username, groups = "system:node:{{EC2PrivateDNSName}}", ("system:nodes",)
        elif not username:
            parsed = parse_principal_arn(entry.principal_arn)
            username = entry.principal_arn if parsed and parsed.is_user else f"arn:aws:sts::{parsed.account}:assumed-role/{parsed.name}/{{{{SessionName}}}}"
        arn = f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/{entry.cluster}/{now.timestamp():.0f}/{len(self.account.entries)}"
        made = EntryState(entry.cluster, entry.principal_arn, entry.entry_type, username, tuple(groups), dict(entry.tags), (), now, now, arn)
        self.account.entries[key] = made
        meta = self.account.meta("CreateAccessEntry", self.actor)
        requested = entry.username if entry.entry_type == "STANDARD" else None
        self.account.events.append(
            AccessEntryCreated(meta, entry.cluster, entry.principal_arn, entry.entry_type, requested, tuple(entry.groups) if entry.entry_type == "STANDARD" else (), dict(entry.tags), username, arn)
        )
        for association in entry.associations if with_associations else ():
            self.associate(entry.cluster, entry.principal_arn, association)

    def update_entry(self, cluster: str, principal_arn: str, *, username: str | None, groups: tuple[str, ...]) -> bool:
        entry = self.account.entries.get((cluster, principal_arn))
        if entry is None:
            return False
        if any(n.startswith(AWS_RESERVED_PREFIXES) for n in ([username] if username else []) + list(groups)):
            raise _error("InvalidParameterException", "reserved prefix", "UpdateAccessEntry")
        now = self.account.tick()
        self.account.entries[(cluster, principal_arn)] = replace(entry, username=username or entry.username, groups=tuple(groups), modified_at=now)
        self.account.events.append(AccessEntryUpdated(self.account.meta("UpdateAccessEntry", self.actor), cluster, principal_arn, username, tuple(groups), entry.entry_type))
        return True

    def delete_entry(self, cluster: str, principal_arn: str) -> bool:
        if self.account.entries.pop((cluster, principal_arn), None) is None:
            return False
        self.account.tick()
        self.account.events.append(AccessEntryDeleted(self.account.meta("DeleteAccessEntry", self.actor), cluster, principal_arn))
        return True

    def associate(self, cluster: str, principal_arn: str, association: Association) -> None:
        entry = self.account.entries.get((cluster, principal_arn))
        if entry is None:
            raise _error("ResourceNotFoundException", "no such access entry", "AssociateAccessPolicy")
        if entry.entry_type != "STANDARD":
            raise _error("InvalidParameterException", "policies only on STANDARD entries", "AssociateAccessPolicy")
        now = self.account.tick()
        kept = tuple(a for a in entry.associations if a.policy_arn != association.policy_arn)
        self.account.entries[(cluster, principal_arn)] = replace(entry, associations=kept + (replace(association, modified_at=now),))
        meta = self.account.meta("AssociateAccessPolicy", self.actor)
        self.account.events.append(
            AccessPolicyAssociated(meta, cluster, principal_arn, association.policy_arn, AccessScope(association.scope_type, association.namespaces))
        )

    def disassociate(self, cluster: str, principal_arn: str, policy_arn: str) -> bool:
        entry = self.account.entries.get((cluster, principal_arn))
        if entry is None or entry.association(policy_arn) is None:
            return False
        self.account.tick()
        self.account.entries[(cluster, principal_arn)] = replace(entry, associations=tuple(a for a in entry.associations if a.policy_arn != policy_arn))
        self.account.events.append(AccessPolicyDisassociated(self.account.meta("DisassociateAccessPolicy", self.actor), cluster, principal_arn, policy_arn))
        return True

    def tag(self, resource_arn: str, tags: dict[str, str]) -> None:
        for key, entry in self.account.entries.items():
            if entry.arn == resource_arn:
                self.account.entries[key] = replace(entry, tags={**entry.tags, **tags})
                self.account.tick()
                self.account.events.append(ResourceTagged(self.account.meta("TagResource", self.actor), resource_arn, dict(tags)))
                return

    def untag(self, resource_arn: str, keys: list[str]) -> bool:
        for key, entry in self.account.entries.items():
            if entry.arn == resource_arn:
                self.account.entries[key] = replace(entry, tags={k: v for k, v in entry.tags.items() if k not in keys})
                self.account.tick()
                return True
        return False


class FakeLedger:
    def __init__(self):
        self.items: dict[tuple[str, str, str, str], EntryState] = {}

    def get(self, account, region, cluster, principal_arn):
        return self.items.get((account, region, cluster, principal_arn))

    def put(self, account, region, entry, *, source):
        self.items[(account, region, entry.cluster, entry.principal_arn)] = replace(
            entry, associations=tuple(replace(a, modified_at=None) for a in entry.associations), created_at=None, modified_at=None, arn=None
        )

    def put_if_absent(self, account, region, entry, *, source):
        if (account, region, entry.cluster, entry.principal_arn) in self.items:
            return False
        self.put(account, region, entry, source=source)
        return True

    def delete(self, account, region, cluster, principal_arn):
        self.items.pop((account, region, cluster, principal_arn), None)

    def of_cluster(self, account, region, cluster):
        return {k[3]: v for k, v in self.items.items() if k[:3] == (account, region, cluster)}


class FakePending:
    def __init__(self):
        self.items: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}

    def of_cluster(self, account, region, cluster):
        return {p: dict(r) for p, r in self.items.get((account, region, cluster), {}).items()}

    def update(self, account, region, cluster, changes, *, based_on=None):
        records = self.items.setdefault((account, region, cluster), {})
        for principal, record in changes.items():
            if record is None:
                records.pop(principal, None)
            else:
                records[principal] = dict(record)


class FakeGrants:
    def __init__(self):
        self.items: dict[str, str] = {}

    def granted(self, resource_arn, value):
        return self.items.get(resource_arn) == value

    def grant(self, resource_arn, value, *, set_by):
        self.items[resource_arn] = value

    def revoke(self, resource_arn):
        self.items.pop(resource_arn, None)
