"""No AWS call is repeated within one event (issue 15): the same operation with the same
parameters twice is a repeat, counted at the botocore layer while the real handler (the
`AccessEntryApp` on the emulator) handles each event kind and outcome. State that decides a
rollback or an exemption is still read fresh (once) for every event."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Callable

import pytest

from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN, FakeLambdaContext
from world_helpers import enforce_rules

TAG = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


class CallLog:
    """Every call the guardrail's clients make, by (operation, parameters)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, model: Any, params: Any, **_: Any) -> None:
        # rest-json (EKS) puts parameters in the path, query and a JSON body; query (IAM, SNS)
        # and json (DynamoDB) protocols in a dict or a JSON body
        body = params.get("body")
        body = json.dumps(body, default=str, sort_keys=True) if isinstance(body, dict) else body
        query = json.dumps(params.get("query_string", ""), default=str, sort_keys=True)
        self.calls.append((model.name, f"{params.get('url_path', '')}?{query} {body!r}"))

    def take(self) -> list[tuple[str, str]]:
        calls, self.calls = self.calls, []
        return calls


def repeats(calls: list[tuple[str, str]]) -> dict[str, int]:
    return {op: n for (op, _), n in Counter(calls).items() if n > 1}


def developer(world) -> str:
    return world.role_arn("Developer")


def user(world) -> str:
    world.platform.client("iam").create_user(UserName="mallory")
    return f"arn:aws:iam::{ACCOUNT}:user/mallory"


# (name, rules overrides, set-up before counting, the change counted, expected outcome statuses)
Scenario = tuple[str, dict, Callable[[Any], None], Callable[[Any], None], set]


def _dev_entry(world) -> None:
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer(world), kubernetesGroups=["dev"])


def _nothing(world) -> None:
    return None


SCENARIOS: list[Scenario] = [
    ("compliant create", {}, _nothing, _dev_entry, set()),
    (
        "compliant associate",
        {},
        _dev_entry,
        lambda w: w.eks("platform").associate_access_policy(
            clusterName="prod", principalArn=developer(w), policyArn=VIEW, accessScope={"type": "namespace", "namespaces": ["dev"]}
        ),
        set(),
    ),
    (
        "alert-only update",
        {"rules": {"custom-username": {"action": "alert"}}},
        _dev_entry,
        lambda w: w.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer(w), username="bob"),
        {"alerted"},
    ),
    ("rollback of a user's entry", {}, _nothing, lambda w: w.eks("attacker").create_access_entry(clusterName="prod", principalArn=user(w)), {"rolled-back"}),
    (
        "rollback of an admin association",
        {},
        _dev_entry,
        lambda w: w.eks("attacker").associate_access_policy(
            clusterName="prod", principalArn=developer(w), policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"}
        ),
        {"rolled-back"},
    ),
    (
        "rollback of a reserved group",
        {},
        _dev_entry,
        lambda w: w.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer(w), kubernetesGroups=["platform:admins"]),
        {"rolled-back"},
    ),
    (
        "rollback of a scope into kube-system",
        {},
        lambda w: (
            _dev_entry(w),
            w.eks("platform").associate_access_policy(
                clusterName="prod", principalArn=developer(w), policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["dev"]}
            ),
        ),
        lambda w: w.eks("attacker").associate_access_policy(
            clusterName="prod", principalArn=developer(w), policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["kube-system"]}
        ),
        {"rolled-back"},
    ),
    (
        "restore of a protected entry",
        {},
        _nothing,
        lambda w: w.eks("attacker").delete_access_entry(clusterName="prod", principalArn=w.role_arn("Platform")),
        {"rolled-back"},
    ),
    (
        "restore of a protected association",
        {},
        _nothing,
        lambda w: w.eks("attacker").disassociate_access_policy(clusterName="prod", principalArn=w.role_arn("Platform"), policyArn=CLUSTER_ADMIN),
        {"rolled-back"},
    ),
    (
        "refused for lockout",
        {"rules": {"protected-entry": {"action": "alert", "principals": ["arn:aws:iam::*:role/Platform"]}}},
        lambda w: (
            _dev_entry(w),
            w.eks("platform").associate_access_policy(
                clusterName="prod", principalArn=developer(w), policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"}
            ),
            w.eks("platform").delete_access_entry(clusterName="prod", principalArn=w.role_arn("Platform")),
        ),
        lambda w: w.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer(w), kubernetesGroups=["dev"]),
        set(),
    ),
]


def _run(world, rules: dict, setup, change):
    log = CallLog()
    world.guardrail.events.register("before-call", log)
    app = world.app(enforce_rules(**rules))
    setup(world)
    world.deliver(app)
    world.alerts()
    change(world)
    events = world.pending_events()
    assert events, "the change produced no event"
    per_event, results = [], []
    log.take()
    for event in events:
        results.append(app.handle(event, FakeLambdaContext()))
        per_event.append(log.take())
    return per_event, results, events, app, log


@pytest.mark.parametrize("tagged", [False, True], ids=["no-tag-exemption", "tag-exemption"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_no_call_is_repeated_within_one_event(world, scenario, tagged):
    name, rules, setup, change, expected = scenario
    if tagged:
        rules = {**rules, "exemptions": {"tag": TAG}}
    per_event, results, _, _, _ = _run(world, rules, setup, change)
    statuses = {o["status"] for r in results for o in r.get("outcomes", [])}
    assert expected <= statuses, (name, results)
    for calls, result in zip(per_event, results):
        assert calls or result["status"] == "skipped", "the handler made no call at all (not measured)"
        assert repeats(calls) == {}, (name, [op for op, _ in calls])


def test_the_log_sees_a_repeat(world):
    """The measure itself: the same read twice is counted as a repeat, a different one is not."""
    log = CallLog()
    world.guardrail.events.register("before-call", log)
    eks = world.guardrail.client("eks", region_name=world.region)
    eks.describe_cluster(name="prod")
    eks.describe_cluster(name="prod")
    eks.list_access_entries(clusterName="prod")
    iam = world.guardrail.client("iam")
    for name in ("Platform", "Developer", "Developer"):
        iam.get_role(RoleName=name)
    assert repeats(log.take()) == {"DescribeCluster": 2, "GetRole": 2}


def test_a_duplicate_delivery_makes_no_eks_call(world):
    """The idempotency store answers the second delivery of one event: no EKS read or write."""
    _, results, events, app, log = _run(world, {}, _nothing, lambda w: w.eks("attacker").create_access_entry(clusterName="prod", principalArn=user(w)))
    again = app.handle(events[0], FakeLambdaContext())
    calls = log.take()
    assert again == results[0]
    assert calls and {op for op, _ in calls} <= {"GetItem", "PutItem"}, calls


@pytest.mark.parametrize("action, policy", [("alert", None), ("delete", CLUSTER_ADMIN), ("delete", VIEW)])
def test_the_iam_principal_handler_repeats_no_call(world, action, policy):
    """DeleteRole of a principal holding an entry: found, judged, deleted past lockout protection."""
    from eks_guardrail.config import org_rules_from_data
    from eks_guardrail.demo.world import TRUST_POLICY

    iam = world.platform.client("iam")
    arn = iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    eks = world.eks("platform")
    eks.create_access_entry(clusterName="prod", principalArn=arn)
    if policy:
        eks.associate_access_policy(clusterName="prod", principalArn=arn, policyArn=policy, accessScope={"type": "cluster"})
    iam.delete_role(RoleName="app")
    (event,) = [e for e in world.pending_iam_events() if e["detail"]["eventName"] == "DeleteRole"]
    log = CallLog()
    world.guardrail.events.register("before-call", log)
    app = world.iam_app(org_rules_from_data({"mode": "enforce", "rules": {"stale-principal": {"action": action}}}))

    result = app.handle(event)

    assert [o["status"] for o in result["outcomes"]] == ["alerted" if action == "alert" else "rolled-back"]
    calls = log.take()
    assert repeats(calls) == {}, [op for op, _ in calls]


def test_the_guardrails_own_change_makes_no_call_at_all(world):
    """Its own rollbacks come back as events: skipped before idempotency, no AWS call."""
    log = CallLog()
    world.guardrail.events.register("before-call", log)
    app = world.app(enforce_rules())
    world.deliver(app)
    world.eks("guardrail").create_access_entry(clusterName="prod", principalArn=developer(world))
    (event,) = world.pending_events()
    log.take()

    result = app.handle(event, FakeLambdaContext())

    assert result["status"] == "skipped" and "guardrail itself" in result["reason"]
    assert log.take() == []


def test_a_compliant_create_makes_only_the_calls_it_needs(world):
    """Idempotency (record, complete), the entry as it is now (entry, associations), the cluster's
    pending decisions, the state recorded (a conditional put: no read before it)."""
    per_event, results, _, _, _ = _run(world, {}, _nothing, _dev_entry)
    (calls,) = per_event
    assert results[0]["findings"] == 0
    assert Counter(op for op, _ in calls) == Counter(
        {"PutItem": 2, "UpdateItem": 1, "DescribeAccessEntry": 1, "ListAssociatedAccessPolicies": 1, "GetItem": 1}
    )


def test_an_association_exempt_by_an_allowed_tag_reads_each_grant_once(world):
    def tagged_entry(w):
        _dev_entry(w)
        arn = w.eks().describe_access_entry(clusterName="prod", principalArn=developer(w))["accessEntry"]["accessEntryArn"]
        w.eks("platform").tag_resource(resourceArn=arn, tags={"guardrail": "exempt"})

    change = lambda w: w.eks("attacker").associate_access_policy(  # noqa: E731
        clusterName="prod", principalArn=developer(w), policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"}
    )
    per_event, results, _, _, _ = _run(world, {"exemptions": {"tag": TAG}}, tagged_entry, change)

    assert [o["detail"] for r in results for o in r["outcomes"]][0].startswith("alert only: exempt")
    for calls in per_event:
        assert repeats(calls) == {}, [op for op, _ in calls]
