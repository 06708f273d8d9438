"""An account on the emulator with the guardrail deployed, a cluster in API mode and a
protected platform-admin entry; the rules the end-to-end tests enforce. The fixtures are in
tests/conftest.py."""

from __future__ import annotations

from eks_guardrail.config import org_rules_from_data
from eks_guardrail.demo.world import LocalWorld

VPC = {"subnetIds": ["subnet-0a1b2c3d"]}


def enforce_rules(rules: dict | None = None, **overrides):
    """The rules the end-to-end tests run with: enforce, Platform protected and the only admin allowed.

    `rules` replaces single rules' settings; other keywords replace top-level keys.
    """
    data = {
        "mode": "enforce",
        "rules": {
            "reserved-prefix": {"action": "rollback", "prefixes": ["platform:"]},
            "prefer-roles": {"action": "rollback"},
            "admin-policy": {"action": "rollback", "policies": {"AmazonEKSClusterAdminPolicy": {"allow": ["arn:aws:iam::*:role/Platform"]}}},
            "namespace-scope": {"action": "rollback"},
            "cross-account": {"action": "rollback"},
            "custom-username": {"action": "off"},
            "protected-entry": {"action": "rollback", "principals": ["arn:aws:iam::*:role/Platform"]},
            "bootstrap-admin": {"action": "rollback"},
        },
    }
    data["rules"].update(rules or {})
    data.update(overrides)
    return org_rules_from_data(data)


def make_cluster(world: LocalWorld, name: str, *, who: str = "platform", bootstrap: bool = False) -> None:
    world.eks(who).create_cluster(
        name=name,
        roleArn=world.role_arn("Platform"),
        resourcesVpcConfig=VPC,
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": bootstrap},
    )


def guarded_world(world: LocalWorld) -> LocalWorld:
    """Cluster `prod` (API mode) with the protected Platform role holding cluster admin: the
    world the end-to-end tests (the `world` fixture) and `benchmarks/aws_calls.py` start from."""
    from eks_guardrail.demo.world import CLUSTER_ADMIN

    make_cluster(world, "prod")
    eks = world.eks("platform")
    platform = world.role_arn("Platform")
    eks.create_access_entry(clusterName="prod", principalArn=platform, tags={"owner": "platform"})
    eks.associate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    return world
