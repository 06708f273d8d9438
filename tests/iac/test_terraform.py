"""`eks-guardrail iac` on Terraform plans (`terraform show -json tfplan`)."""

from __future__ import annotations

import json

from .plans import (
    ACCOUNT,
    ADMIN,
    CLUSTER_ARN,
    association_after,
    cluster_after,
    configured,
    entry_after,
    entry_state,
    entry_unknown,
    module_config,
    plan,
    resource_change,
)

CI = "arn:aws:iam::999988887777:role/ci"
PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"
DEV = f"arn:aws:iam::{ACCOUNT}:role/dev"
ENTRY = 'module.eks.module.access.aws_eks_access_entry.this["ci"]'
ASSOCIATION = 'module.eks.module.access.aws_eks_access_policy_association.this["ci"]'


def nested_configuration(**entry_expressions) -> dict:
    access = module_config(
        [
            configured("aws_eks_access_entry.this", cluster_name={"references": ["var.cluster_name"]},
                       principal_arn={"references": ["each.value.principal_arn"]}, **entry_expressions),
            configured("aws_eks_access_policy_association.this", cluster_name={"references": ["var.cluster_name"]},
                       policy_arn={"references": ["each.value.policy_arn"]}, principal_arn={"references": ["each.value.principal_arn"]},
                       access_scope=[{"type": {"constant_value": "cluster"}}]),
        ]
    )
    return module_config([], eks=module_config([], access=access))


def judged(run_iac, *argv: str) -> tuple[int, dict]:
    status, out, _err = run_iac("--format", "json", *argv)
    return status, json.loads(out)


def rule_and_resource(report: dict) -> list[tuple[str, str, str]]:
    return [(f["rule"], f["resource"], f["event_name"]) for f in report["findings"]]


def test_created_entry_and_association_in_nested_modules(run_iac, write_json, org_file):
    path = write_json("tfplan.json", plan(
        [
            resource_change(ENTRY, ["create"], None, entry_after(CI), entry_unknown(user_name=True, kubernetes_groups=True)),
            resource_change(ASSOCIATION, ["create"], None, association_after(CI, ADMIN, "cluster"), {"id": True, "associated_at": True}),
            resource_change("data.aws_caller_identity.current", ["read"], None, {}, {}) | {"mode": "data", "type": "aws_caller_identity"},
        ],
        nested_configuration(),
    ))
    status, report = judged(run_iac, "--config", org_file, "--account", ACCOUNT, path)
    assert rule_and_resource(report) == [
        ("cross-account", ENTRY, "CreateAccessEntry"),
        ("admin-policy", ASSOCIATION, "AssociateAccessPolicy"),
    ]
    assert report["resources"] == 2 and report["undecided"] == [] and report["errors"] == []
    assert report["findings"][0]["file"] == path and report["findings"][0]["line"] == 1  # Terraform prints one line
    assert report["findings"][0]["account"] == ACCOUNT and report["findings"][1]["action"] == "rollback"
    assert status == 1


def test_the_account_comes_from_a_cluster_arn_in_the_plan(run_iac, write_json, org_file):
    existing = dict(cluster_after([{"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False}]), arn=CLUSTER_ARN)
    path = write_json("tfplan.json", plan(
        [
            resource_change("aws_eks_cluster.prod", ["no-op"], existing, existing),
            resource_change(ENTRY, ["create"], None, entry_after(CI), entry_unknown(user_name=True, kubernetes_groups=True)),
        ],
        nested_configuration(),
    ))
    status, report = judged(run_iac, "--config", org_file, path)
    assert rule_and_resource(report) == [("cross-account", ENTRY, "CreateAccessEntry")]
    assert report["findings"][0]["account"] == ACCOUNT and report["findings"][0]["region"] == "eu-west-1"


def test_without_an_account_cross_account_is_undecided(run_iac, write_json, org_file):
    path = write_json("tfplan.json", plan(
        [resource_change(ENTRY, ["create"], None, entry_after(DEV), entry_unknown(user_name=True, kubernetes_groups=True))],
        nested_configuration(),
    ))
    status, report = judged(run_iac, "--config", org_file, path)
    assert report["findings"] == []
    assert [(u["resource"], u["unknown"]) for u in report["undecided"]] == [(ENTRY, ["account"])]
    assert status == 1
    status, report = judged(run_iac, "--config", org_file, "--account", ACCOUNT, path)
    assert (status, report["findings"], report["undecided"]) == (0, [], [])


def test_updated_entry_is_judged_as_update_access_entry(run_iac, write_json, org_file):
    before = entry_state(PLATFORM, user_name="platform", groups=["ops"])
    after = dict(before, user_name="platform", kubernetes_groups=["ops", "admins"])
    tagged_before = entry_state(DEV, user_name="dev", groups=[])
    tagged_after = dict(tagged_before, tags={"owner": "team-a"})
    path = write_json("tfplan.json", plan([
        resource_change('aws_eks_access_entry.this["platform"]', ["update"], before, after),
        resource_change('aws_eks_access_entry.this["dev"]', ["update"], tagged_before, tagged_after),
    ]))
    status, report = judged(run_iac, "--config", org_file, path)
    assert rule_and_resource(report) == [("protected-entry", 'aws_eks_access_entry.this["platform"]', "UpdateAccessEntry")]
    assert "changed the username or groups" in report["findings"][0]["message"]
    assert report["undecided"] == [] and status == 1


def test_deleted_protected_entry_and_association(run_iac, write_json, org_file):
    association = association_after(PLATFORM, ADMIN, "cluster") | {"id": "x", "associated_at": "2024-05-01T10:00:00Z"}
    path = write_json("tfplan.json", plan([
        resource_change("aws_eks_access_entry.platform", ["delete"], entry_state(PLATFORM, user_name="p", groups=[]), None),
        resource_change("aws_eks_access_policy_association.platform", ["delete"], association, None),
        resource_change("aws_eks_access_entry.dev", ["delete"], entry_state(DEV, user_name="d", groups=[]), None),
    ]))
    status, report = judged(run_iac, "--config", org_file, path)
    assert rule_and_resource(report) == [
        ("protected-entry", "aws_eks_access_entry.platform", "DeleteAccessEntry"),
        ("protected-entry", "aws_eks_access_policy_association.platform", "DisassociateAccessPolicy"),
    ]
    assert report["resources"] == 3 and status == 1


def test_replaced_entry_is_a_deletion_and_a_creation(run_iac, write_json, org_file):
    before = entry_state(PLATFORM, user_name="p", groups=[])
    after = entry_after(PLATFORM, user_name="system:admin") | {"type": "STANDARD"}
    path = write_json("tfplan.json", plan([resource_change("aws_eks_access_entry.platform", ["delete", "create"], before, after, entry_unknown())]))
    status, report = judged(run_iac, "--config", org_file, "--account", ACCOUNT, path)
    assert [(f["rule"], f["event_name"]) for f in report["findings"]] == [
        ("protected-entry", "DeleteAccessEntry"),
        ("custom-username", "CreateAccessEntry"),
        ("reserved-prefix", "CreateAccessEntry"),
    ]


def test_cluster_created_updated_and_left_to_the_api_defaults(run_iac, write_json, org_file):
    explicit = cluster_after([{"authentication_mode": "API_AND_CONFIG_MAP", "bootstrap_cluster_creator_admin_permissions": False}])
    defaulted = cluster_after([])
    before = dict(cluster_after([{"authentication_mode": "CONFIG_MAP", "bootstrap_cluster_creator_admin_permissions": True}]), arn=CLUSTER_ARN)
    after = dict(before, access_config=[{"authentication_mode": "API_AND_CONFIG_MAP", "bootstrap_cluster_creator_admin_permissions": True}])
    path = write_json("tfplan.json", plan(
        [
            resource_change("aws_eks_cluster.explicit", ["create"], None, explicit, {"arn": True, "id": True}),
            resource_change("aws_eks_cluster.defaulted", ["create"], None, defaulted, {"arn": True, "access_config": True}),
            resource_change("module.eks.aws_eks_cluster.this[0]", ["update"], before, after),
        ],
        module_config([
            configured("aws_eks_cluster.explicit", name={"constant_value": "prod"}, access_config=[{"authentication_mode": {"constant_value": "API_AND_CONFIG_MAP"}}]),
            configured("aws_eks_cluster.defaulted", name={"constant_value": "prod"}),
        ]),
    ))
    status, report = judged(run_iac, "--config", org_file, path)
    assert [(f["rule"], f["resource"], f["event_name"]) for f in report["findings"]] == [
        ("authentication-mode", "aws_eks_cluster.explicit", "CreateCluster"),
        ("authentication-mode", "aws_eks_cluster.defaulted", "CreateCluster"),
        ("bootstrap-admin", "aws_eks_cluster.defaulted", "CreateCluster"),
        ("authentication-mode", "module.eks.aws_eks_cluster.this[0]", "UpdateClusterConfig"),
    ]
    assert "CONFIG_MAP (the API default" in report["findings"][1]["message"]
    assert "switched cluster prod to authentication mode API_AND_CONFIG_MAP" in report["findings"][3]["message"]


def test_unknown_values_are_never_read_as_compliant(run_iac, write_json, org_file):
    path = write_json("tfplan.json", plan(
        [
            # the role is created in the same plan: its ARN is known after apply
            resource_change(ENTRY, ["create"], None, entry_after(None), entry_unknown(principal_arn=True, user_name=True, kubernetes_groups=True)),
            # namespaces from another resource's output: one element unknown
            resource_change(ASSOCIATION, ["create"], None, association_after(DEV, ADMIN, "namespace", ["team-a", None]),
                            {"id": True, "access_scope": [{"namespaces": [False, True]}]}),
            # a username that is written in the configuration but known only after apply
            resource_change('module.eks.module.access.aws_eks_access_entry.this["dev"]', ["create"], None, entry_after(DEV),
                            entry_unknown(user_name=True)),
            # no configuration for this one: an unknown username might be anything
            resource_change("aws_eks_cluster.prod", ["create"], None, cluster_after([{"authentication_mode": None}]),
                            {"access_config": [{"authentication_mode": True}]}),
        ],
        nested_configuration(user_name={"references": ["each.value.user_name"]}),
    ))
    status, report = judged(run_iac, "--config", org_file, "--account", ACCOUNT, path)
    assert report["findings"] == [] and report["errors"] == []
    assert [(u["resource"], u["unknown"]) for u in report["undecided"]] == [
        (ENTRY, ["principal_arn", "user_name"]),  # the configuration writes user_name: an unknown one is not AWS's default
        (ASSOCIATION, ["access_scope[0].namespaces"]),
        ('module.eks.module.access.aws_eks_access_entry.this["dev"]', ["user_name"]),
        ("aws_eks_cluster.prod", ["access_config[0].authentication_mode"]),
    ]
    assert report["undecided"][0]["message"].startswith(f"{ENTRY} cannot be judged before it is applied: unknown principal_arn")
    assert status == 1


def test_a_corrupt_file_is_an_error_and_the_others_are_still_judged(run_iac, write_json, tmp_path, org_file):
    bad = tmp_path / "broken.tfplan.json"
    bad.write_text('{"format_version": "1.2", "resource_changes": [')
    not_a_plan = write_json("other.json", {"hello": "world"})
    wrong_shape = write_json("shape.json", plan([resource_change("aws_eks_access_entry.x", ["create"], None, {"principal_arn": 42})]))
    good = write_json("tfplan.json", plan([resource_change("aws_eks_access_entry.platform", ["delete"], entry_state(PLATFORM, user_name="p", groups=[]), None)]))
    status, out, err = run_iac("--format", "json", "--config", org_file, str(bad), not_a_plan, wrong_shape, good)
    report = json.loads(out)
    assert status == 2
    assert [e["file"] for e in report["errors"]] == [str(bad), not_a_plan, wrong_shape]
    assert report["errors"][1]["error"].startswith("neither a Terraform plan")
    assert report["errors"][2]["error"] == "principal_arn: expected a string, got int"
    assert rule_and_resource(report) == [("protected-entry", "aws_eks_access_entry.platform", "DeleteAccessEntry")]
    assert f"eks-guardrail: {bad}: neither JSON" in err
