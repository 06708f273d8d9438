"""Property tests: random attack sequences against the guardrail in `enforce`.

Hypothesis draws sequences of creates, updates, deletes, associations, disassociations and
exemption tags, by the attacker and by the platform team, on a cluster whose only admin is
the protected Platform role. The events are delivered in order, out of order, duplicated
x2-5 and interleaved with later changes (what concurrency does to a handler: the state moves
between the event and its handling); then the sweep runs. Afterwards:

(a) the cluster still has a real admin path (a principal holding cluster admin cluster-wide);
(b) every violation a rule would roll back is gone, or is kept pending with an alert that
    said why it could not be undone (`refused`, `not-undone`, `failed`); the protected entry
    is as the ledger knows it;
(c) no event is lost: each one ends in a report (acted on, skipped as the guardrail's own,
    or alerted), with an outcome for every finding.

1,000 sequences run on an in-memory account (`tests/fake_eks.py`) with the real `Enforcer`,
reconciliation and sweep reconciliation; `test_sequences_on_the_emulator` runs fewer through
the Lambda handler, the emulator and the real sweep handler.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from eks_guardrail.engine import ObservedState
from eks_guardrail.enforcement.admin_view import read_admin_view
from eks_guardrail.enforcement.enforcer import Enforcer
from eks_guardrail.enforcement.exemption_tags import TagGuard
from eks_guardrail.enforcement.lockout import CLUSTER_ADMIN_POLICY_ARN, has_admin_path
from eks_guardrail.enforcement.reconcile import REMEDY_KIND, UNRESOLVED, _state_findings
from eks_guardrail.enforcement.sweep_reconcile import reconcile_cluster
from eks_guardrail.state import Association, EntryState
from eks_guardrail.sweep.judge import judge_cluster
from eks_guardrail.sweep.snapshot import ClusterRef, read_cluster

from fake_eks import ACCOUNT, REGION, FakeAccount, FakeGrants, FakeLedger, FakePending, role
from world_helpers import enforce_rules

PLATFORM, ATTACKER, GUARDRAIL = role("Platform"), role("Developer"), role("eks-guardrail-access-entry")
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
PRINCIPALS = [PLATFORM, role("Developer"), role("Ops"), f"arn:aws:iam::{ACCOUNT}:user/mallory", role("BreakGlass", "999988887777")]
ASSOCIATIONS = [
    Association(CLUSTER_ADMIN_POLICY_ARN, "cluster"),
    Association(CLUSTER_ADMIN_POLICY_ARN, "namespace", ("team-a",)),
    Association(EDIT, "namespace", ("kube-system",)),
    Association(EDIT, "namespace", ("web",)),
    Association(VIEW, "cluster"),
]
GROUPS = [(), ("web-devs",), ("platform:admins",), ("web-devs", "platform:ops")]
TAG = {"key": "guardrail", "value": "exempt", "set_by": [PLATFORM]}
ORG = enforce_rules(exemptions={"tag": TAG}, rules={"exemption-tag": {"action": "rollback"}})


@dataclass(frozen=True)
class Op:
    who: str
    kind: str
    principal: str
    groups: tuple[str, ...] = ()
    association: Association | None = None
    entry_type: str = "STANDARD"


ops = st.builds(
    Op,
    who=st.sampled_from([ATTACKER, ATTACKER, PLATFORM]),
    kind=st.sampled_from(["create", "update", "delete", "associate", "disassociate", "tag"]),
    principal=st.sampled_from(PRINCIPALS),
    groups=st.sampled_from(GROUPS),
    association=st.sampled_from(ASSOCIATIONS),
    entry_type=st.sampled_from(["STANDARD", "STANDARD", "STANDARD", "EC2_LINUX"]),
)


class Guardrail:
    """The enforcer and the sweep on one fake account, and what they reported."""

    def __init__(self, account: FakeAccount):
        self.account = account
        self.ledger, self.pending, self.grants = FakeLedger(), FakePending(), FakeGrants()
        self.tags = TagGuard(ORG, self.grants)
        self.enforcer = Enforcer(
            org=ORG, eks_for_region=lambda region: account.as_(GUARDRAIL), ledger=self.ledger,
            own_principals=(GUARDRAIL,), pending=self.pending, tags=self.tags,
        )
        self.told: dict[str, set[str]] = {}
        self.reports = 0

    def deliver(self, change) -> None:
        report = self.enforcer.handle(change)
        self.reports += 1
        if report.skipped_reason is None:
            assert len(report.outcomes) >= len(report.findings), "(c) a finding without an outcome"
        for outcome in report.outcomes:
            self.told.setdefault(outcome.finding.principal_arn or "", set()).add(outcome.status)

    def sweep(self) -> None:
        eks = self.account.as_(GUARDRAIL)
        snapshot = read_cluster(eks, ClusterRef(REGION, "prod"))
        findings, _ = judge_cluster(snapshot, ACCOUNT, ORG, lambda arn: None)
        outcomes, _ = reconcile_cluster(
            org=ORG, eks=eks, ledger=self.ledger, pending=self.pending, tags=self.tags, account=ACCOUNT, snapshot=snapshot, findings=findings
        )
        for outcome in outcomes:
            self.told.setdefault(outcome.finding.principal_arn or "", set()).add(outcome.status)


def _world() -> tuple[FakeAccount, Guardrail]:
    account = FakeAccount()
    account.create_cluster("prod")
    platform = account.as_(PLATFORM)
    platform.create_entry(EntryState("prod", PLATFORM, "STANDARD", None, (), {"owner": "platform"}, (ASSOCIATIONS[0],)))
    guardrail = Guardrail(account)
    for change in account.take_events():
        guardrail.deliver(change)
    account.take_events()
    assert guardrail.ledger.get(ACCOUNT, REGION, "prod", PLATFORM) is not None
    return account, guardrail


def _apply(account: FakeAccount, op: Op) -> None:
    eks = account.as_(op.who)
    try:
        if op.kind == "create":
            eks.create_entry(EntryState("prod", op.principal, op.entry_type, None, op.groups, {}), with_associations=False)
        elif op.kind == "update":
            eks.update_entry("prod", op.principal, username=None, groups=op.groups)
        elif op.kind == "delete":
            eks.delete_entry("prod", op.principal)
        elif op.kind == "associate":
            eks.associate("prod", op.principal, op.association)
        elif op.kind == "disassociate":
            eks.disassociate("prod", op.principal, op.association.policy_arn)
        elif op.kind == "tag":
            entry = account.entries.get(("prod", op.principal))
            if entry is not None:
                eks.tag(entry.arn, {"guardrail": "exempt"})
    except ClientError:
        pass  # AWS refused the call: CloudTrail records it with errorCode, the pattern drops it


def _check_invariants(account: FakeAccount, guardrail: Guardrail) -> None:
    eks = account.as_(GUARDRAIL)
    assert has_admin_path(read_admin_view(eks, "prod")), "(a) the cluster lost every real admin path"
    pending = guardrail.pending.of_cluster(ACCOUNT, REGION, "prod")
    for (cluster, principal), entry in account.entries.items():
        findings = _state_findings(entry, ORG, ACCOUNT, REGION, ObservedState(entry_tags=guardrail.tags.trusted(entry.arn, entry.tags), entry_type=entry.entry_type))
        left = [f for f in findings if f.action == "rollback" and f.rule in REMEDY_KIND]
        if left:
            assert principal in pending, f"(b) {principal} still breaks {[f.rule for f in left]} and nothing is pending"
            assert pending[principal]["status"] in UNRESOLVED
            assert guardrail.told.get(principal, set()) & UNRESOLVED, f"(b) nobody was told why {principal} was not undone"
    known = guardrail.ledger.get(ACCOUNT, REGION, "prod", PLATFORM)
    current = account.entries.get(("prod", PLATFORM))
    assert current is not None and current.entry_type == known.entry_type, "(b) the protected entry is missing or replaced"
    assert all(current.association(a.policy_arn) == a for a in known.associations), "(b) the protected entry lost a policy"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    sequence=st.lists(ops, min_size=1, max_size=8),
    plan=st.data(),
)
def test_random_sequences_converge_whatever_the_delivery(sequence, plan):
    account, guardrail = _world()
    undelivered: list = []
    delivered = 0
    for op in sequence:
        _apply(account, op)
        undelivered += account.take_events()
        # concurrency: some events are handled now, in any order, while later changes follow
        now = plan.draw(st.lists(st.integers(0, len(undelivered) - 1), max_size=3, unique=True), label="handled now") if undelivered else []
        for index in sorted(now, reverse=True):
            guardrail.deliver(undelivered.pop(index))
            delivered += 1
        undelivered += account.take_events()  # the guardrail's own changes: delivered and skipped
    rest = plan.draw(st.permutations(undelivered), label="order of the rest")
    for change in rest:
        for _ in range(plan.draw(st.integers(1, 5), label="copies")):
            guardrail.deliver(change)
            delivered += 1
        for own in account.take_events():
            guardrail.deliver(own)
    for _ in range(2):  # the sweep retries what is pending
        guardrail.sweep()
        for own in account.take_events():
            guardrail.deliver(own)
    assert guardrail.reports >= delivered, "(c) an event was lost"
    _check_invariants(account, guardrail)
    for status in sorted(set().union(*guardrail.told.values()) if guardrail.told else ()):
        event(f"outcome {status}")


EMULATOR_OPS = st.builds(
    Op,
    who=st.sampled_from(["attacker", "attacker", "platform"]),
    kind=st.sampled_from(["create", "update", "delete", "associate", "disassociate"]),
    principal=st.sampled_from(["Platform", "Developer", "mallory", "stranger"]),
    groups=st.sampled_from(GROUPS),
    association=st.sampled_from(ASSOCIATIONS),
    entry_type=st.just("STANDARD"),
)


def test_sequences_on_the_emulator():
    """The same properties through the real Lambda handler (idempotency on), the emulator's
    CloudTrail events routed by the deployed pattern, and the real sweep handler."""
    import itertools
    import random

    from eks_guardrail.demo.world import CLUSTER_ADMIN, FakeLambdaContext, create_world
    from eks_guardrail.local import mock_aws

    from world_helpers import make_cluster

    names = itertools.count()
    with mock_aws():
        world = create_world()
        world.platform.client("iam").create_user(UserName="mallory")
        arns = {
            "Platform": world.role_arn("Platform"),
            "Developer": world.role_arn("Developer"),
            "mallory": f"arn:aws:iam::{ACCOUNT}:user/mallory",
            "stranger": "arn:aws:iam::999988887777:role/BreakGlass",
        }
        org = enforce_rules()
        app = world.app(org)
        sweep = world.sweep_app(org)

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, phases=[Phase.generate])
        @given(sequence=st.lists(EMULATOR_OPS, min_size=1, max_size=6), seed=st.integers(0, 2**16))
        def run(sequence, seed):
            cluster = f"c{next(names)}"
            make_cluster(world, cluster)
            platform = world.eks("platform")
            platform.create_access_entry(clusterName=cluster, principalArn=arns["Platform"])
            platform.associate_access_policy(clusterName=cluster, principalArn=arns["Platform"], policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
            world.deliver(app)
            for op in sequence:
                eks = world.eks(op.who)
                principal = arns[op.principal]
                try:
                    if op.kind == "create":
                        eks.create_access_entry(clusterName=cluster, principalArn=principal, kubernetesGroups=list(op.groups))
                    elif op.kind == "update":
                        eks.update_access_entry(clusterName=cluster, principalArn=principal, kubernetesGroups=list(op.groups))
                    elif op.kind == "delete":
                        eks.delete_access_entry(clusterName=cluster, principalArn=principal)
                    elif op.kind == "associate":
                        eks.associate_access_policy(clusterName=cluster, principalArn=principal, policyArn=op.association.policy_arn, accessScope=op.association.access_scope())
                    else:
                        eks.disassociate_access_policy(clusterName=cluster, principalArn=principal, policyArn=op.association.policy_arn)
                except ClientError:
                    pass
            events = world.pending_events()
            shuffler = random.Random(seed)
            shuffler.shuffle(events)
            for event in events:
                for _ in range(shuffler.randint(1, 3)):
                    result = app.handle(event, FakeLambdaContext())
                    assert result["status"] in ("evaluated", "skipped")
            world.deliver(app)  # the guardrail's own calls: skipped
            sweep.handle()
            world.deliver(app)

            eks = world.eks()
            admins = eks.list_access_entries(clusterName=cluster, associatedPolicyArn=CLUSTER_ADMIN)["accessEntries"]
            assert any(
                a["accessScope"]["type"] == "cluster"
                for p in admins
                for a in eks.list_associated_access_policies(clusterName=cluster, principalArn=p)["associatedAccessPolicies"]
                if a["policyArn"] == CLUSTER_ADMIN
            ), "(a) no real admin path left"
            view = world.entries(cluster)
            assert "AmazonEKSClusterAdminPolicy@cluster" in view.get(arns["Platform"], []), "(b) protected entry not restored"
            for name in ("mallory", "stranger"):
                assert arns[name] not in view, f"(b) {name}'s entry survived"
            developer = view.get(arns["Developer"], [])
            assert "AmazonEKSClusterAdminPolicy@cluster" not in developer and "group:platform:admins" not in developer
            world.alerts()

        run()
