"""The sweep on the emulator: drift from state, grants-nothing, the ledger, throttling,
a failing cluster, pagination, alerting only what is new."""

from __future__ import annotations

import json

from botocore.awsrequest import AWSResponse

from eks_guardrail.config import org_rules_from_data
from eks_guardrail.demo.world import CLUSTER_ADMIN
from eks_guardrail.sweep.judge import judge_cluster
from eks_guardrail.sweep.snapshot import ClusterSnapshot
from eks_guardrail.state import Association, EntryState
from world_helpers import enforce_rules, make_cluster

#: Rules only the sweep judges, each with a state that breaks it and one that does not
#: (tests/test_rules.py's meta-test reads this table).
SWEEP_CASES = {
    "grants-nothing": (
        EntryState("prod", "arn:aws:iam::123456789012:role/Empty", "STANDARD", None, (), {}),
        EntryState("prod", "arn:aws:iam::123456789012:role/Viewer", "STANDARD", None, ("viewers",), {}),
    ),
}


def test_sweep_only_rules_each_have_a_breaking_and_a_complying_state():
    org = org_rules_from_data({})
    for rule, (breaking, complying) in SWEEP_CASES.items():
        def found(entry):
            findings, _ = judge_cluster(ClusterSnapshot("eu-west-1", "prod", "API", {}, (entry,)), "123456789012", org, lambda arn: None)
            return [f for f in findings if f.rule == rule]

        assert len(found(breaking)) == 1, rule
        assert found(complying) == [], rule
    nodes = EntryState("prod", "arn:aws:iam::123456789012:role/nodes", "EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", ("system:nodes",), {})
    assert not [f for f in judge_cluster(ClusterSnapshot("eu-west-1", "prod", "API", {}, (nodes,)), "1", org, lambda a: None)[0] if f.rule == "grants-nothing"]


def test_sweep_rolls_back_drift_that_no_event_showed_in_enforce(world):
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    world.pending_events()  # the events were lost: only the sweep can see this

    result = world.sweep_app(enforce_rules()).handle()

    assert [(a["rule"], a["status"]) for a in result["acted"]] == [("admin-policy", "rolled-back")]
    (alert,) = [a for a in world.alerts() if a["attributes"]["rule"] == "admin-policy"]
    assert alert["attributes"]["action"] == "rolled-back"
    assert world.entries("prod")[developer] == []
    assert world.sweep_app(enforce_rules()).handle()["acted"] == []  # converged: nothing left to do


def test_sweep_reports_drift_that_no_event_showed_and_refreshes_the_ledger(world):
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    world.pending_events()  # the events were lost: only the sweep can see this

    result = world.sweep_app(enforce_rules(mode="monitor")).handle()

    assert result["clusters"] == 1 and result["entries"] == 2 and result["errors"] == []
    alerts = world.alerts()
    drift = [a for a in alerts if a["attributes"]["rule"] == "admin-policy"]
    assert len(drift) == 1
    assert "found by the sweep" in json.loads(drift[0]["message"])["content"]["description"]
    assert world.entries("prod")[developer] == ["AmazonEKSClusterAdminPolicy@cluster"]  # monitor: reported, not rolled back
    assert result["ledger_refreshed"] == 1  # the platform entry; the developer's breaks a rollback rule


def test_second_sweep_alerts_only_what_is_new(world):
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=world.role_arn("Developer"))
    app = world.sweep_app(enforce_rules())
    first = app.handle()
    assert first["alerted"] >= 1
    world.alerts()
    second = app.handle()
    assert second["findings"] == first["findings"] and second["alerted"] == 0
    assert world.alerts() == []


def test_grants_nothing_is_reported(world):
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=world.role_arn("Developer"))
    world.sweep_app(enforce_rules()).handle()
    rules = [a["attributes"]["rule"] for a in world.alerts()]
    assert "grants-nothing" in rules


def _answer(status: int, code: str, request) -> AWSResponse:
    body = json.dumps({"message": code}).encode()
    return AWSResponse(request.url, status, {"x-amzn-ErrorType": code, "Content-Type": "application/json"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body

    def read(self, *args):
        return self._body


def test_throttled_sweep_retries_and_completes(world):
    app = world.sweep_app(enforce_rules())
    eks = app.clients.client("eks", world.region)
    calls = {"list_entries": 0}

    def throttle(request, **kwargs):
        if request.method == "GET" and request.url.split("?")[0].endswith("/clusters/prod/access-entries"):
            calls["list_entries"] += 1
            if calls["list_entries"] <= 3:
                return _answer(429, "ThrottlingException", request)
        return None

    eks.meta.events.register("before-send.eks.ListAccessEntries", throttle)
    result = app.handle()
    # three throttled answers, then the same request again: botocore's adaptive retries did it
    assert calls["list_entries"] == 4
    assert result["errors"] == [] and result["entries"] == 1


def test_a_cluster_that_fails_is_reported_and_the_rest_continue(world):
    make_cluster(world, "broken")
    make_cluster(world, "fine")
    app = world.sweep_app(enforce_rules())
    eks = app.clients.client("eks", world.region)

    def fail_broken(request, **kwargs):
        return _answer(500, "ServerException", request) if "/clusters/broken/access-entries" in request.url else None

    eks.meta.events.register("before-send.eks", fail_broken)
    result = app.handle()

    assert result["clusters"] == 3
    assert len(result["errors"]) == 1 and result["errors"][0].startswith(f"{world.region}/broken: ")
    assert result["entries"] == 1  # prod's entry was still read


def test_pagination_over_many_clusters_and_entries(world):
    for i in range(101):
        world.eks().create_cluster(name=f"c{i:03d}", roleArn=world.role_arn("Platform"), resourcesVpcConfig={"subnetIds": ["s"]},
                                   accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    eks = world.eks()
    for i in range(120):
        eks.create_access_entry(clusterName="c000", principalArn=f"arn:aws:iam::999988887777:role/r{i:03d}")

    result = world.sweep_app(enforce_rules(rules={"cross-account": {"action": "alert"}})).handle()

    assert result["clusters"] == 102
    assert result["entries"] == 121
