"""Part 3, AWS calls per event kind and outcome, counted by operation at the botocore layer.

In one process on the emulator (`eks_guardrail.local.mock_aws`): for each scenario a fresh
account with the guardrail deployed (the demo world: cluster `prod`, a protected Platform entry
holding cluster admin, the ledger filled by the setup's own events), then a change made by
a person, whose CloudTrail event EventBridge routes to the real handler app
(`AccessEntryApp` or `IamPrincipalApp`, a warm container: it handled the setup's events).
The handler's clients are made on a session the probe is attached to (`_probe.Probe`): each
event's calls are counted by operation, and a call made twice with the same request (URL,
query and body) within one event is a repeat.

Outcomes: compliant, alert-only, each kind of rollback, deferred, refused, the guardrail's own
change skipped, a duplicate delivery, a failed call skipped. Each scenario checks the handler's
answer; a scenario that did not end as expected is marked, not hidden. Every scenario runs
under the end-to-end tests' enforce rules, and again with a tag exemption configured (entry and
cluster tags are then read for every event).

Run alone: `python benchmarks/aws_calls.py [--quick] [--json FILE]` (--quick: one scenario of each kind
of outcome, no tag-exemption pass).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import PartResult, Probe, Table, Target, fmt_ops, part_main, peak_rss_mib, progress, progress_done, use_repo_paths  # noqa: E402

VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
TAG = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}


def _nothing(w: Any) -> None:
    return None


@dataclass
class Scenario:
    outcome: str  # what the row is about
    event: str  # the event counted (its eventName)
    change: Callable[[Any], Any]
    expect: set[str] = field(default_factory=set)  # outcome statuses the answer must hold (empty: none at all)
    setup: Callable[[Any], Any] = _nothing
    rules: dict[str, Any] = field(default_factory=dict)  # enforce_rules(**rules)
    handler: str = "access_entry"
    special: str | None = None  # "own" | "duplicate" | "synthetic"
    tag_only: bool = False
    status: str = "evaluated"
    trigger: str | None = None  # "own": the event whose handling makes the guardrail's own change
    quick: bool = False  # in the --quick subset (one of each kind of outcome)


# --- what people do -----------------------------------------------------------------------------


def dev(w: Any) -> str:
    return w.role_arn("Developer")


def dev_entry(w: Any) -> None:
    w.eks("platform").create_access_entry(clusterName="prod", principalArn=dev(w), kubernetesGroups=["dev"])


def dev_entry_edit(w: Any) -> None:
    dev_entry(w)
    w.eks("platform").associate_access_policy(clusterName="prod", principalArn=dev(w), policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["dev"]})


def mallory_entry(w: Any) -> None:
    w.platform.client("iam").create_user(UserName="mallory")
    w.eks("attacker").create_access_entry(clusterName="prod", principalArn="arn:aws:iam::123456789012:user/mallory")


def entry_arn(w: Any, who: str = "platform") -> str:
    return w.eks(who).describe_access_entry(clusterName="prod", principalArn=dev(w))["accessEntry"]["accessEntryArn"]


def make_cluster(w: Any, name: str, who: str = "platform", bootstrap: bool = False) -> None:
    from world_helpers import make_cluster as make

    make(w, name, who=who, bootstrap=bootstrap)


def lab_with_platform_admin(w: Any) -> None:
    make_cluster(w, "lab", who="attacker", bootstrap=True)
    eks, platform = w.eks("platform"), w.role_arn("Platform")
    eks.create_access_entry(clusterName="lab", principalArn=platform)
    eks.associate_access_policy(clusterName="lab", principalArn=platform, policyArn=ADMIN, accessScope={"type": "cluster"})


def lockout(w: Any) -> None:
    make_cluster(w, "solo")
    w.platform.client("iam").create_user(UserName="ops")
    ops = "arn:aws:iam::123456789012:user/ops"
    w.eks("attacker").create_access_entry(clusterName="solo", principalArn=ops)
    w.eks("attacker").associate_access_policy(clusterName="solo", principalArn=ops, policyArn=ADMIN, accessScope={"type": "cluster"})


def bound_role(w: Any) -> None:
    from eks_guardrail.demo.world import TRUST_POLICY

    arn = w.platform.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    eks = w.eks("platform")
    eks.create_access_entry(clusterName="prod", principalArn=arn, kubernetesGroups=["viewers"], tags={"owner": "t"})
    eks.associate_access_policy(clusterName="prod", principalArn=arn, policyArn=VIEW, accessScope={"type": "namespace", "namespaces": ["web"]})


def failed_call(w: Any) -> dict[str, Any]:
    import cloudtrail_builder as ct

    record = ct.create_access_entry(dev(w), account="123456789012", error_code="AccessDeniedException", error_message="not authorized")
    return ct.eventbridge(record)


SCENARIOS: list[Scenario] = [
    Scenario("compliant", "CreateAccessEntry", dev_entry, quick=True),
    Scenario("compliant", "AssociateAccessPolicy", lambda w: w.eks("platform").associate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=VIEW, accessScope={"type": "namespace", "namespaces": ["dev"]}), setup=dev_entry),
    Scenario("compliant", "UpdateAccessEntry", lambda w: w.eks("platform").update_access_entry(
        clusterName="prod", principalArn=dev(w), kubernetesGroups=["dev", "qa"]), setup=dev_entry),
    Scenario("compliant", "DisassociateAccessPolicy", lambda w: w.eks("platform").disassociate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=EDIT), setup=dev_entry_edit),
    Scenario("compliant", "DeleteAccessEntry", lambda w: w.eks("platform").delete_access_entry(clusterName="prod", principalArn=dev(w)), setup=dev_entry),
    Scenario("compliant", "CreateCluster", lambda w: make_cluster(w, "lab")),
    Scenario("compliant", "TagResource", lambda w: w.eks("platform").tag_resource(resourceArn=entry_arn(w), tags={"owner": "dev"}), setup=dev_entry),
    Scenario("alert-only (rule action alert)", "UpdateAccessEntry", lambda w: w.eks("attacker").update_access_entry(
        clusterName="prod", principalArn=dev(w), username="bob"), {"alerted"}, dev_entry, {"rules": {"custom-username": {"action": "alert"}}}, quick=True),
    Scenario("alert-only (monitor mode)", "AssociateAccessPolicy", lambda w: w.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=ADMIN, accessScope={"type": "cluster"}), {"alerted"}, dev_entry, {"mode": "monitor"}),
    Scenario("alert-only (exempt by an allowed tag)", "AssociateAccessPolicy", lambda w: w.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=ADMIN, accessScope={"type": "cluster"}), {"alerted"},
        lambda w: (dev_entry(w), w.eks("platform").tag_resource(resourceArn=entry_arn(w), tags={"guardrail": "exempt"})), tag_only=True),
    Scenario("rollback: delete the entry (prefer-roles)", "CreateAccessEntry", mallory_entry, {"rolled-back"}),
    Scenario("rollback: restore username and groups (reserved-prefix)", "UpdateAccessEntry", lambda w: w.eks("attacker").update_access_entry(
        clusterName="prod", principalArn=dev(w), kubernetesGroups=["platform:admins"]), {"rolled-back"}, dev_entry),
    Scenario("rollback: disassociate (admin-policy)", "AssociateAccessPolicy", lambda w: w.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=ADMIN, accessScope={"type": "cluster"}), {"rolled-back"}, dev_entry, quick=True),
    Scenario("rollback: restore the previous scope (namespace-scope)", "AssociateAccessPolicy", lambda w: w.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=dev(w), policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["kube-system"]}), {"rolled-back"}, dev_entry_edit),
    Scenario("rollback: recreate the protected entry", "DeleteAccessEntry", lambda w: w.eks("attacker").delete_access_entry(
        clusterName="prod", principalArn=w.role_arn("Platform")), {"rolled-back"}),
    Scenario("rollback: associate the protected policy again", "DisassociateAccessPolicy", lambda w: w.eks("attacker").disassociate_access_policy(
        clusterName="prod", principalArn=w.role_arn("Platform"), policyArn=ADMIN), {"rolled-back"}),
    Scenario("rollback: remove the creator's admin entry (bootstrap-admin)", "CreateCluster", lab_with_platform_admin, {"rolled-back"}),
    Scenario("rollback: remove an untrusted exemption tag", "TagResource", lambda w: w.eks("attacker").tag_resource(
        resourceArn=entry_arn(w, "attacker"), tags={"guardrail": "exempt"}), {"rolled-back"}, dev_entry, tag_only=True),
    Scenario("deferred: creator's admin entry, no other admin yet", "CreateCluster", lambda w: make_cluster(w, "lab", who="attacker", bootstrap=True), {"deferred"}),
    Scenario("refused: it would lock everyone out", "AssociateAccessPolicy", lockout, {"refused"}, rules={"rules": {"prefer-roles": {"action": "alert"}}}, quick=True),
    Scenario("skipped: the guardrail's own change", "DeleteAccessEntry", mallory_entry, special="own", status="skipped", trigger="CreateAccessEntry", quick=True),
    Scenario("duplicate delivery (of the rollback above)", "CreateAccessEntry", mallory_entry, {"rolled-back"}, special="duplicate", quick=True),
    Scenario("skipped: a failed call", "CreateAccessEntry", failed_call, special="synthetic", status="skipped", quick=True),
    Scenario("compliant: role created, no entry bound", "CreateRole", lambda w: w.platform.client("iam").create_role(
        RoleName="fresh", AssumeRolePolicyDocument="{}"), handler="iam_principal", rules={"rules": {"stale-principal": {"action": "alert"}}}, quick=True),
    Scenario("alert-only: dangling entry (stale-principal)", "DeleteRole", lambda w: w.platform.client("iam").delete_role(RoleName="app"),
             {"alerted"}, bound_role, {"rules": {"stale-principal": {"action": "alert"}}}, handler="iam_principal"),
    Scenario("rollback: delete the dangling entry (stale-principal)", "DeleteRole", lambda w: w.platform.client("iam").delete_role(RoleName="app"),
             {"rolled-back"}, bound_role, {"rules": {"stale-principal": {"action": "delete"}}}, handler="iam_principal"),
]


# --- running one scenario -------------------------------------------------------------------------


@dataclass
class Counted:
    scenario: Scenario
    config: str
    calls: Counter
    repeats: Counter
    statuses: set[str]
    status: str
    problem: str | None


def _by_guardrail(world: Any, event: dict[str, Any]) -> bool:
    issuer = (event.get("detail", {}).get("userIdentity", {}).get("sessionContext") or {}).get("sessionIssuer") or {}
    return issuer.get("arn") == world.guardrail_role_arn


def run_scenario(scenario: Scenario, tag_exemption: bool) -> Counted:
    import boto3

    from eks_guardrail.clients import ClientFactory
    from eks_guardrail.demo.world import FakeLambdaContext, create_world
    from eks_guardrail.handlers.access_entry_app import AccessEntryApp
    from eks_guardrail.handlers.iam_principal_app import IamPrincipalApp
    from eks_guardrail.local import mock_aws
    from world_helpers import enforce_rules, guarded_world

    config = "enforce + tag exemption" if tag_exemption else "enforce"
    with mock_aws():
        world = guarded_world(create_world())

        rules = dict(scenario.rules)
        if tag_exemption:
            rules["exemptions"] = {"tag": TAG}
            rules["rules"] = {**rules.get("rules", {}), "exemption-tag": {"action": "rollback"}}
        org = enforce_rules(**rules)
        credentials = world.guardrail.get_credentials()
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token, region_name=world.region,
        )
        probe = Probe()
        probe.attach(session)
        access = AccessEntryApp(world.settings(org), ClientFactory(session))
        app: Any = access if scenario.handler == "access_entry" else IamPrincipalApp(world.settings(org), ClientFactory(session))
        pending = world.pending_events if scenario.handler == "access_entry" else world.pending_iam_events

        def deliver_all() -> None:  # what happens before the counted event: the access-entry handler sees it all
            for event in world.pending_events():
                access.handle(event, FakeLambdaContext())
            if scenario.handler != "access_entry":
                world.pending_iam_events()
            world.alerts()

        deliver_all()
        scenario.setup(world)
        deliver_all()
        made = scenario.change(world)
        if scenario.special == "synthetic":
            target, before = made, []
        else:
            events = pending()
            wanted = scenario.trigger or scenario.event
            matching = [e for e in events if e["detail"]["eventName"] == wanted and not _by_guardrail(world, e)]
            if not matching:
                raise RuntimeError(f"{scenario.outcome}: no {wanted} event")
            target = matching[0]
            before = events[: events.index(target)]
        for event in before:  # earlier events of the same change (e.g. CreateCluster before the entries)
            app.handle(event, FakeLambdaContext())
        with probe.scope() as scope:
            answer = app.handle(target, FakeLambdaContext())
        if scenario.special in ("own", "duplicate"):
            if scenario.special == "own":
                own = [e for e in world.pending_events() if _by_guardrail(world, e) and e["detail"]["eventName"] == scenario.event]
                if not own:
                    raise RuntimeError(f"{scenario.outcome}: the guardrail made no {scenario.event}")
                target = own[0]
            with probe.scope() as scope:
                answer = app.handle(target, FakeLambdaContext())
    statuses = {o["status"] for o in answer.get("outcomes", [])}
    problem = None
    if answer.get("status") != scenario.status:
        problem = f"answer status {answer.get('status')!r}, expected {scenario.status!r}"
    elif scenario.expect and not scenario.expect <= statuses:
        problem = f"outcomes {sorted(statuses)}, expected {sorted(scenario.expect)}"
    elif not scenario.expect and statuses:
        problem = f"outcomes {sorted(statuses)}, expected none"
    return Counted(scenario, config, scope.by_operation(), scope.repeats(), statuses, str(answer.get("status")), problem)


def run(quick: bool = False) -> PartResult:
    use_repo_paths()
    configs = [False] if quick else [False, True]
    result = PartResult("calls", "3. AWS calls per event kind and outcome (botocore layer, emulator)", "python benchmarks/aws_calls.py")
    counted: list[Counted] = []
    todo = [(s, t) for t in configs for s in SCENARIOS if (t or not s.tag_only) and (s.quick or not quick)]
    for n, (scenario, tagged) in enumerate(todo, 1):
        progress(f"calls: {n}/{len(todo)} {scenario.handler} {scenario.event}: {scenario.outcome}" + (" (tag exemption)" if tagged else ""))
        counted.append(run_scenario(scenario, tagged))
    progress_done()

    for tagged in configs:
        rows = []
        for c in counted:
            if (c.config == "enforce + tag exemption") != tagged:
                continue
            s = c.scenario
            note = f"UNEXPECTED: {c.problem}" if c.problem else ""
            rows.append((s.handler.replace("_", "-"), s.event, s.outcome, sum(c.calls.values()), fmt_ops(c.calls), fmt_ops(c.repeats) if c.repeats else "", note))
        result.tables.append(Table(
            f"rules: {'enforce, tag exemption configured' if tagged else 'enforce (tests/world_helpers.enforce_rules)'}",
            ("handler", "event", "outcome", "calls", "by operation", "repeated (extra calls)", ""),
            rows,
        ))
    repeated = [c for c in counted if c.repeats]
    extra = sum(sum(c.repeats.values()) for c in counted)
    result.targets.append(Target(
        "no call repeated within one event", f"{len(repeated)} of {len(counted)} events repeat a call ({extra} extra calls)", "0", not repeated,
    ))
    wrong = [c for c in counted if c.problem]
    if wrong:
        result.notes.append(f"{len(wrong)} scenario(s) did not end as expected (marked UNEXPECTED): their counts are not of the outcome named")
    result.notes.append("a repeat: the same operation with the same request (URL, query, body) twice in one event; the count is the extra calls")
    result.notes.append(f"peak RSS of this process (emulator included): {peak_rss_mib():.1f} MiB")
    result.data = {
        "events": [
            {"handler": c.scenario.handler, "event": c.scenario.event, "outcome": c.scenario.outcome, "config": c.config,
             "calls": dict(c.calls), "repeats": dict(c.repeats), "statuses": sorted(c.statuses), "problem": c.problem}
            for c in counted
        ]
    }
    return result


if __name__ == "__main__":
    sys.exit(part_main(run, __doc__.splitlines()[0]))
