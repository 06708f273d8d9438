"""End to end on the emulator: a bad change through boto3, its CloudTrail event routed by the
deployed pattern into the handler, the rollback done, the alert published. One test per row
of the rollback table."""

from __future__ import annotations

import json

import pytest

from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN

from world_helpers import enforce_rules, make_cluster

EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


def outcomes(results):
    return [(o["rule"], o["status"]) for r in results if r["status"] == "evaluated" for o in r["outcomes"]]


def test_create_access_entry_for_an_iam_user_is_deleted(world, guardrail):
    world.platform.client("iam").create_user(UserName="mallory")
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=mallory)

    results = world.deliver(guardrail)

    assert outcomes(results) == [("prefer-roles", "rolled-back")]
    assert mallory not in world.entries("prod")
    (alert,) = world.alerts()
    assert alert["attributes"] == {"rule": "prefer-roles", "severity": "medium", "action": "rolled-back", "account": ACCOUNT, "cluster": "prod"}
    message = json.loads(alert["message"])
    assert message["version"] == "1.0" and message["source"] == "custom"
    assert "arn:aws:sts::123456789012:assumed-role/Developer/developer" in message["content"]["description"]


def test_update_access_entry_is_reverted_from_the_ledger(world, guardrail):
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["web-devs"])
    assert outcomes(world.deliver(guardrail)) == []  # compliant: the ledger remembers it

    world.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["platform:admins"])
    assert outcomes(world.deliver(guardrail)) == [("reserved-prefix", "rolled-back")]
    assert world.entries("prod")[developer] == ["group:web-devs"]


def test_associate_cluster_admin_is_disassociated(world, guardrail):
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer)
    world.deliver(guardrail)
    world.eks("attacker").associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})

    assert outcomes(world.deliver(guardrail)) == [("admin-policy", "rolled-back")]
    assert world.entries("prod")[developer] == []


def test_associate_that_widens_an_existing_scope_restores_the_old_scope(world, guardrail):
    developer = world.role_arn("Developer")
    eks = world.eks("platform")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["web"]})
    world.deliver(guardrail)

    world.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=developer, policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["web", "kube-system"]}
    )
    assert outcomes(world.deliver(guardrail)) == [("namespace-scope", "rolled-back")]
    assert world.entries("prod")[developer] == ["AmazonEKSEditPolicy@web"]


def test_deleted_protected_entry_is_recreated_with_its_policies_and_tags(world, guardrail):
    platform = world.role_arn("Platform")
    world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=platform)

    assert outcomes(world.deliver(guardrail)) == [("protected-entry", "rolled-back")]
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]
    entry = world.eks().describe_access_entry(clusterName="prod", principalArn=platform)["accessEntry"]
    assert entry["tags"] == {"owner": "platform"}
    # the guardrail's own restore calls reach the handler too, and are skipped: no loop
    assert [r["status"] for r in world.deliver(guardrail)] == ["skipped", "skipped"]


def test_policy_removed_from_protected_entry_is_associated_again(world, guardrail):
    platform = world.role_arn("Platform")
    world.eks("attacker").disassociate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN)

    assert outcomes(world.deliver(guardrail)) == [("protected-entry", "rolled-back")]
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_cluster_creator_admin_is_removed_once_another_admin_path_exists(world, guardrail):
    make_cluster(world, "lab", who="attacker", bootstrap=True)
    creator = world.role_arn("Developer")
    (result,) = world.deliver(guardrail)
    # the creator is the only admin of the new cluster: removing it now would lock everyone out
    assert [(o["rule"], o["status"]) for o in result["outcomes"]] == [("bootstrap-admin", "deferred")]
    assert creator in world.entries("lab")
    # (admin-policy alert-only here: this test is about the deferred creator removal alone)
    sweep = world.sweep_app(enforce_rules(rules={"admin-policy": {"action": "alert"}}))
    assert sweep.handle()["acted"] == []  # still the only admin path: stays deferred

    world.eks("platform").create_access_entry(clusterName="lab", principalArn=world.role_arn("Platform"))
    world.deliver(guardrail)
    assert sweep.handle()["acted"] == []  # a protected entry that holds nothing is no admin path
    world.eks("platform").associate_access_policy(
        clusterName="lab", principalArn=world.role_arn("Platform"), policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"}
    )
    world.deliver(guardrail)
    acted = sweep.handle()["acted"]

    assert [(a["rule"], a["status"]) for a in acted] == [("bootstrap-admin", "rolled-back")]
    assert creator not in world.entries("lab")
    assert sweep.handle()["acted"] == []  # done once


def test_creator_removal_waits_while_the_cluster_is_creating(world):
    from eks_guardrail.enforcement.rollbacks.creator_admin import remove_creator_entry
    from eks_guardrail.state import ClusterState

    class Creating:
        def describe_cluster(self, name):
            return ClusterState(name, "API", {}, status="CREATING")

    result = remove_creator_entry(Creating(), enforce_rules(), "new", world.role_arn("Developer"))  # type: ignore[arg-type]
    assert result.status == "deferred" and "CREATING" in result.detail


def test_rollback_refused_when_it_would_lock_everyone_out(world):
    world.pending_events()  # the setup of "prod" is not this test's business
    make_cluster(world, "solo")
    user_eks = world.eks("attacker")
    world.platform.client("iam").create_user(UserName="ops")
    ops = f"arn:aws:iam::{ACCOUNT}:user/ops"
    user_eks.create_access_entry(clusterName="solo", principalArn=ops)
    user_eks.associate_access_policy(clusterName="solo", principalArn=ops, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    app = world.app(enforce_rules(rules={"prefer-roles": {"action": "alert"}, "admin-policy": {"action": "rollback"}}))

    results = world.deliver(app)

    assert ("admin-policy", "refused") in outcomes(results)
    assert world.entries("solo")[ops] == ["AmazonEKSClusterAdminPolicy@cluster"]
    refused = [a for a in world.alerts() if a["attributes"]["action"] == "refused"]
    assert refused and "without any cluster-admin path" in json.loads(refused[0]["message"])["content"]["description"]


def test_no_ledger_record_means_no_guess(world):
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer)
    world.pending_events()  # the guardrail never saw it: the ledger has no record
    world.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["platform:x"])
    app = world.app(enforce_rules())
    results = world.deliver(app)
    assert outcomes(results) == [("reserved-prefix", "not-undone")]
    assert world.entries("prod")[developer] == ["group:platform:x"]


def test_interrupted_restore_is_completed_by_the_retry_not_called_done(world, guardrail):
    from botocore.exceptions import ClientError

    from eks_guardrail.adapters.eks import EksAccessEntries

    platform = world.role_arn("Platform")
    app = world.app(enforce_rules(), idempotency=False)
    failures = {"left": 1}

    class AssociateFailsOnce(EksAccessEntries):
        def associate(self, cluster, principal_arn, association):
            if failures["left"]:
                failures["left"] -= 1
                raise ClientError({"Error": {"Code": "ServerException", "Message": "internal error"}}, "AssociateAccessPolicy")
            super().associate(cluster, principal_arn, association)

    app.enforcer.eks_for_region = lambda region: AssociateFailsOnce(app.clients.client("eks", region))
    world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=platform)
    (event,) = world.pending_events()

    with pytest.raises(ClientError, match="ServerException"):
        app.handle(event)
    assert world.entries("prod")[platform] == []  # the entry is back, its policy not yet
    retried = app.handle(event)

    assert [(o["rule"], o["status"]) for o in retried["outcomes"]] == [("protected-entry", "rolled-back")]
    assert retried["outcomes"][0]["detail"] == "associated AmazonEKSClusterAdminPolicy (cluster-wide) again"  # completed, not called done
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_protected_entry_narrowed_to_a_namespace_gets_its_cluster_scope_back(world, guardrail):
    platform = world.role_arn("Platform")
    world.eks("attacker").associate_access_policy(
        clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "namespace", "namespaces": ["default"]}
    )
    assert ("protected-entry", "rolled-back") in outcomes(world.deliver(guardrail))
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_ledger_never_records_a_later_bad_state_read_in_the_same_second(world, guardrail):
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["web-devs"])
    world.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["platform:admins"])

    results = world.deliver(guardrail)  # the create is handled after the update already happened

    # the compliant create event says what state it made: that is restored, never the later one
    assert outcomes(results) == [("reserved-prefix", "rolled-back"), ("reserved-prefix", "already-undone")]
    assert world.entries("prod")[developer] == ["group:web-devs"]
