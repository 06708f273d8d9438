"""Stale and dangling principals on the emulator, checked against its ground truth:
`entry_authenticates` says whether EKS would still authenticate the entry's principal."""

from __future__ import annotations

import json

import pytest

from eks_guardrail.config import org_rules_from_data
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN, TRUST_POLICY
from eks_guardrail.local import entry_authenticates
from world_helpers import make_cluster

SSO_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
SSO_NAME = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"


def rules(action: str = "alert", rebind=(), mode: str = "enforce", **extra):
    data = {"mode": mode, "trusted_accounts": ["999999999999"],
            "rules": {"stale-principal": {"action": action, "rebind": list(rebind)},
                      "protected-entry": {"principals": ["arn:aws:iam::*:role/Platform"]}, **extra}}
    return org_rules_from_data(data)


def grant(world, name: str, *, path: str = "/", cluster: str = "prod", policy: str | None = None) -> str:
    iam = world.platform.client("iam")
    arn = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    eks = world.eks("platform")
    eks.create_access_entry(clusterName=cluster, principalArn=arn, kubernetesGroups=["viewers"], tags={"owner": "t"})
    if policy:
        eks.associate_access_policy(clusterName=cluster, principalArn=arn, policyArn=policy, accessScope={"type": "namespace", "namespaces": ["web"]})
    return arn


def recreate(world, name: str, *, path: str = "/") -> None:
    iam = world.platform.client("iam")
    iam.delete_role(RoleName=name)
    iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_POLICY)


def stale_outcomes(result):
    return [(o["status"], o["cluster"]) for o in result["outcomes"] if o["rule"] == "stale-principal"]


def handle_iam(world, app, event_name: str):
    events = [e for e in world.pending_iam_events() if e["detail"]["eventName"] == event_name]
    assert events, f"no {event_name} event reached the IAM rule"
    return app.handle(events[-1])


def test_deleted_role_leaves_a_dangling_entry(world):
    arn = grant(world, "app")
    world.platform.client("iam").delete_role(RoleName="app")
    assert entry_authenticates("prod", arn, world.region) is False

    result = handle_iam(world, world.iam_app(rules()), "DeleteRole")

    assert stale_outcomes(result) == [("alerted", "prod")]
    assert "dangling" in json.loads(world.alerts()[0]["message"])["content"]["description"]


def test_recreated_role_is_stale_and_the_sweep_agrees_with_ground_truth(world):
    stale_arn = grant(world, "app")
    fine_arn = grant(world, "other")
    recreate(world, "app")
    assert entry_authenticates("prod", stale_arn, world.region) is False
    assert entry_authenticates("prod", fine_arn, world.region) is True

    result = world.sweep_app(rules()).handle()
    stale = {f"{a['rule']}" for a in result["acted"]}
    assert stale == set()  # alert only
    alerts = [a for a in world.alerts() if a["attributes"]["rule"] == "stale-principal"]
    flagged = [json.loads(a["message"])["content"]["description"] for a in alerts]
    assert len(flagged) == 1 and stale_arn in flagged[0] and "stale" in flagged[0]


@pytest.mark.parametrize("name, path", [("deploy", "/team/apps/"), (SSO_NAME, SSO_PATH)], ids=["path", "sso"])
def test_path_based_and_sso_roles_match_by_name(world, name, path):
    arn = grant(world, name, path=path)
    assert arn == f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
    recreate(world, name, path=path)
    assert entry_authenticates("prod", arn, world.region) is False

    result = handle_iam(world, world.iam_app(rules()), "CreateRole")

    assert stale_outcomes(result) == [("alerted", "prod")]


def test_clusters_in_other_regions_are_checked(world):
    from eks_guardrail.demo.world import create_world  # noqa: F401 - same mock, second region
    west = world.platform.client("eks", region_name="us-west-2")
    west.create_cluster(name="west", roleArn=world.role_arn("Platform"), resourcesVpcConfig={"subnetIds": ["subnet-1"]},
                        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    arn = world.platform.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    west.create_access_entry(clusterName="west", principalArn=arn)
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=arn)
    world.platform.client("iam").delete_role(RoleName="app")

    result = handle_iam(world, world.iam_app(rules(), regions=(world.region, "us-west-2")), "DeleteRole")

    assert sorted(stale_outcomes(result)) == [("alerted", "prod"), ("alerted", "west")]


def test_delete_action_removes_the_dead_entry(world):
    arn = grant(world, "app", policy="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
    world.platform.client("iam").delete_role(RoleName="app")

    result = handle_iam(world, world.iam_app(rules("delete")), "DeleteRole")

    assert stale_outcomes(result) == [("rolled-back", "prod")]
    assert arn not in world.entries("prod")


def test_rebind_recreates_the_entry_for_the_new_principal_only_when_allow_listed(world):
    arn = grant(world, "app", policy="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
    other = grant(world, "other")
    recreate(world, "app")
    recreate(world, "other")
    before = world.entries("prod")

    result = world.sweep_app(rules("rebind", rebind=["arn:aws:iam::*:role/app"])).handle()

    assert [a["status"] for a in result["acted"]] == ["rolled-back"]
    assert entry_authenticates("prod", arn, world.region) is True
    assert entry_authenticates("prod", other, world.region) is False  # not on the rebind list: alert only
    assert world.entries("prod") == before  # same groups and policies as before
    entry = world.eks().describe_access_entry(clusterName="prod", principalArn=arn)["accessEntry"]
    assert entry["tags"] == {"owner": "t"}


def test_rebind_never_applies_to_a_dangling_entry(world):
    grant(world, "gone")
    world.platform.client("iam").delete_role(RoleName="gone")
    result = world.sweep_app(rules("rebind", rebind=["arn:aws:iam::*:role/*"])).handle()
    assert result["acted"] == []


def test_monitor_mode_turns_stale_actions_into_alerts(world):
    arn = grant(world, "app")
    world.platform.client("iam").delete_role(RoleName="app")
    result = handle_iam(world, world.iam_app(rules("delete", mode="monitor")), "DeleteRole")
    assert stale_outcomes(result) == [("alerted", "prod")]
    assert arn in world.entries("prod")


def test_deleting_a_dangling_entry_that_is_the_only_admin_path_is_refused(world):
    make_cluster(world, "solo")
    arn = grant(world, "admin", cluster="solo")
    world.eks("platform").associate_access_policy(clusterName="solo", principalArn=arn, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    world.platform.client("iam").delete_role(RoleName="admin")

    result = handle_iam(world, world.iam_app(rules("delete")), "DeleteRole")

    assert stale_outcomes(result) == [("refused", "solo")]
    assert arn in world.entries("solo")


def test_deleted_user_is_found_too(world):
    iam = world.platform.client("iam")
    arn = iam.create_user(UserName="ops")["User"]["Arn"]
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=arn)
    iam.delete_user(UserName="ops")
    result = handle_iam(world, world.iam_app(rules()), "DeleteUser")
    assert stale_outcomes(result) == [("alerted", "prod")]


def test_rebind_that_cannot_recreate_says_what_to_recreate(world):
    from botocore.stub import Stubber

    from eks_guardrail.adapters.eks import EksAccessEntries
    from eks_guardrail.adapters.iam import PrincipalStatus
    from eks_guardrail.enforcement.stale_actions import REBIND_CREATE_BACKOFF, act_on_stale_safely
    from eks_guardrail.state import EntryState
    from eks_guardrail.sweep.stale import STALE, StalePrincipal

    client = world.guardrail.client("eks", region_name=world.region)
    entry = EntryState("prod", "arn:aws:iam::123456789012:role/app", "STANDARD", None, ("viewers",), {"owner": "t"})
    stale = StalePrincipal(entry, STALE, PrincipalStatus(entry.principal_arn, True, unique_id="AROANEW"))
    stubber = Stubber(client)
    stubber.add_response("delete_access_entry", {}, {"clusterName": "prod", "principalArn": entry.principal_arn})
    for _ in range(len(REBIND_CREATE_BACKOFF) + 1):  # IAM not consistent yet: every try refused
        stubber.add_client_error("create_access_entry", "InvalidParameterException", "The specified principalArn is invalid: invalid principal.", 400)
    pauses = []
    with stubber:
        result = act_on_stale_safely("rebind", stale, EksAccessEntries(client), rules(), sleep=pauses.append)
    assert result.status == "failed"
    assert pauses == list(REBIND_CREATE_BACKOFF)
    assert '"groups": ["viewers"]' in result.detail and '"owner": "t"' in result.detail


def test_partner_account_entries_are_never_judged_by_local_names(world):
    """A trusted partner's role is not 'dangling' just because no local role has its name."""
    partner = "arn:aws:iam::999999999999:role/Partner"
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=partner)
    result = world.sweep_app(rules("delete")).handle()
    assert result["acted"] == []
    assert partner in world.entries("prod")
