"""The guardrail converges on state: each defect an attacker with `eks:*` found, reproduced
through the public API on the emulator, and fixed (each test failed before the fix)."""

from __future__ import annotations

from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN

from world_helpers import enforce_rules
from .test_rollbacks import outcomes

VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_refused_rollback_is_retried_once_the_protected_entry_is_back(world, guardrail):
    # defect 1: grant yourself cluster admin, then delete the protected entry
    developer, platform = world.role_arn("Developer"), world.role_arn("Platform")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    eks.delete_access_entry(clusterName="prod", principalArn=platform)

    results = world.deliver(guardrail)

    assert ("admin-policy", "refused") in outcomes(results)  # at that moment the attacker was the only admin
    assert ("protected-entry", "rolled-back") in outcomes(results)
    assert ("admin-policy", "rolled-back") in outcomes(results)  # retried after the restore
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]
    assert world.entries("prod")[developer] == []


def test_refused_rollback_is_retried_by_the_sweep(world, guardrail):
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    eks.delete_access_entry(clusterName="prod", principalArn=world.role_arn("Platform"))
    events = world.pending_events()
    for event in events[:2]:  # the Delete event is lost
        guardrail.handle(event)

    summary = world.sweep_app(enforce_rules()).handle()

    assert {(a["rule"], a["status"]) for a in summary["acted"]} >= {("protected-entry", "rolled-back"), ("admin-policy", "rolled-back")}
    assert world.entries("prod")[developer] == []
    assert world.entries("prod")[world.role_arn("Platform")] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_a_follow_up_change_does_not_mask_the_violation(world, guardrail):
    # defect 2: reserved group added, then any second update
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["web-devs"])
    world.deliver(guardrail)
    eks = world.eks("attacker")
    eks.update_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["platform:admins"])
    eks.update_access_entry(clusterName="prod", principalArn=developer, username="dev:{{SessionName}}")

    results = world.deliver(guardrail)

    assert ("reserved-prefix", "rolled-back") in outcomes(results)
    assert world.entries("prod")[developer] == ["group:web-devs"]


def test_events_out_of_order_and_twice_converge(world, guardrail):
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["web-devs"])
    world.deliver(guardrail)
    world.eks("attacker").update_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["platform:admins"])
    world.eks("attacker").associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    events = world.pending_events()
    for event in [*reversed(events), *events]:
        guardrail.handle(event)
    assert world.entries("prod")[developer] == ["group:web-devs"]


def test_protected_entry_replaced_by_a_node_entry_is_restored(world, guardrail):
    # defect 3: delete the protected entry, recreate the principal as a node entry
    platform = world.role_arn("Platform")
    eks = world.eks("attacker")
    eks.delete_access_entry(clusterName="prod", principalArn=platform)
    eks.create_access_entry(clusterName="prod", principalArn=platform, type="EC2_LINUX")

    results = world.deliver(guardrail)

    assert ("protected-entry", "rolled-back") in outcomes(results)
    entry = world.eks().describe_access_entry(clusterName="prod", principalArn=platform)["accessEntry"]
    assert entry["type"] == "STANDARD"
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_a_view_only_protected_entry_is_no_admin_path_for_lockout(world, guardrail):
    # defect 4: the protected entry holds only view: removing the real admin would lock everyone out
    platform, developer = world.role_arn("Platform"), world.role_arn("Developer")
    eks = world.eks("platform")
    eks.associate_access_policy(clusterName="prod", principalArn=platform, policyArn=VIEW, accessScope={"type": "cluster"})
    world.deliver(guardrail)
    eks.disassociate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN)
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    world.pending_events()  # the platform's own re-arrangement: not under test
    world.eks("attacker").associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    app = world.app(enforce_rules(rules={"protected-entry": {"action": "alert", "principals": ["arn:aws:iam::*:role/Platform"]}}))

    results = world.deliver(app)

    assert outcomes(results) == [("admin-policy", "refused")]
    assert world.entries("prod")[developer] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_exemption_tag_set_by_the_attacker_is_removed_and_not_honoured(world):
    # defect 5: tag your own entry, then grant yourself cluster admin
    tag = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}
    app = world.app(enforce_rules(exemptions={"tag": tag}, rules={"exemption-tag": {"action": "rollback"}}))
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer)
    world.deliver(app)
    eks = world.eks("attacker")
    entry_arn = eks.describe_access_entry(clusterName="prod", principalArn=developer)["accessEntry"]["accessEntryArn"]
    eks.tag_resource(resourceArn=entry_arn, tags={"guardrail": "exempt"})
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})

    results = world.deliver(app)

    assert ("exemption-tag", "rolled-back") in outcomes(results)
    assert ("admin-policy", "rolled-back") in outcomes(results)
    assert world.entries("prod")[developer] == []
    assert "guardrail" not in world.eks().list_tags_for_resource(resourceArn=entry_arn)["tags"]


def test_exemption_tag_set_by_an_allowed_principal_is_honoured(world):
    tag = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}
    app = world.app(enforce_rules(exemptions={"tag": tag}, rules={"exemption-tag": {"action": "rollback"}}))
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer)
    world.deliver(app)
    entry_arn = world.eks().describe_access_entry(clusterName="prod", principalArn=developer)["accessEntry"]["accessEntryArn"]
    world.eks("platform").tag_resource(resourceArn=entry_arn, tags={"guardrail": "exempt"})
    world.eks("attacker").associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})

    results = world.deliver(app)

    assert outcomes(results) == [("admin-policy", "alerted")]
    assert world.entries("prod")[developer] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_an_exemption_pattern_does_not_cover_a_stranger_account(world):
    # defect 6: `arn:aws:iam::*:role/BreakGlass` matched a BreakGlass role in any account
    app = world.app(enforce_rules(exemptions={"principals": ["arn:aws:iam::*:role/BreakGlass"]}))
    stranger = "arn:aws:iam::999988887777:role/BreakGlass"
    world.deliver(app)
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=stranger)
    eks.associate_access_policy(clusterName="prod", principalArn=stranger, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})

    results = world.deliver(app)

    assert ("cross-account", "rolled-back") in outcomes(results)
    assert stranger not in world.entries("prod")
    assert ACCOUNT != "999988887777"


def test_an_exempt_protected_entry_is_restored_every_time_it_is_deleted(world):
    # a break-glass principal is typically both protected and exempt: the exemption lets it hold
    # admin, it never lets anyone delete it (and a deletion never erases its restore point)
    app = world.app(enforce_rules(exemptions={"principals": ["arn:aws:iam::*:role/Platform"]}))
    world.deliver(app)
    platform = world.role_arn("Platform")
    for _ in range(2):
        world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=platform)
        results = world.deliver(app)
        assert ("protected-entry", "rolled-back") in outcomes(results)
        assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]


def test_a_deletion_seen_in_monitor_keeps_the_protected_restore_point(world, guardrail):
    platform = world.role_arn("Platform")
    monitor = world.app(enforce_rules(mode="monitor"))
    world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=platform)
    assert outcomes(world.deliver(monitor)) == [("protected-entry", "alerted")]

    summary = world.sweep_app(enforce_rules()).handle()  # then the team switches to enforce

    assert ("protected-entry", "rolled-back") in {(a["rule"], a["status"]) for a in summary["acted"]}
    assert world.entries("prod")[platform] == ["AmazonEKSClusterAdminPolicy@cluster"]
