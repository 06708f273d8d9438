"""Planning the access entries that replace aws-auth: node roles, Fargate, SSO roles with their
path, users, `system:masters`, usernames and groups EKS takes or refuses, what is not carried."""

from __future__ import annotations

from pathlib import Path

import pytest

from eks_guardrail.migration.aws_auth import AuthMapping, AwsAuth, parse_aws_auth
from eks_guardrail.migration.mapping import (
    ACCOUNT_REASON,
    MANAGED_REASON,
    RESERVED_GROUP_REASON,
    SERVICE_LINKED_REASON,
    MappingPlan,
    NotCarried,
    PlannedEntry,
    PlannedPolicy,
    map_aws_auth,
)

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "111122223333"
PARTNER = "222233334444"
SSO_PATH = "aws-reserved/sso.amazonaws.com/eu-west-1/"
ADMIN = (PlannedPolicy("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "cluster"),)
MASTERS_NOTE = "system:masters -> AmazonEKSClusterAdminPolicy on the cluster (the group is reserved in access entries)"

#: The roles of the cluster's account, by name, with their paths (what iam:GetRole would say).
ROLES = {
    "eks-managed-ng-NodeInstanceRole-1A2B3C4D": "",
    "eks-fargate-pod-execution-role": "",
    "windows-self-managed-NodeInstanceRole": "",
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef": SSO_PATH,
    "AWSReservedSSO_ReadOnly_fedcba9876543210": SSO_PATH,
    "ci-deployer": "",
    "AWSServiceRoleForAmazonEKSNodegroup": "aws-service-role/eks-nodegroup.amazonaws.com/",
}


def role_arn(name: str, account: str = ACCOUNT) -> str:
    path = ROLES.get(name, "") if account == ACCOUNT else ""
    return f"arn:aws:iam::{account}:role/{path}{name}"


def resolve(name: str) -> str | None:
    return role_arn(name) if name in ROLES else None


MANAGED = frozenset({role_arn("eks-managed-ng-NodeInstanceRole-1A2B3C4D"), role_arn("eks-fargate-pod-execution-role")})


def plan(auth: AwsAuth, *, managed: frozenset[str] = MANAGED, trusted: frozenset[str] = frozenset({PARTNER})) -> MappingPlan:
    return map_aws_auth(auth, cluster_account=ACCOUNT, trusted_accounts=trusted, resolve_role=resolve, eks_managed_roles=managed)


def roles(*mappings: tuple[str, str | None, tuple[str, ...]]) -> AwsAuth:
    return AwsAuth(tuple(AuthMapping("role", arn, username, groups, f"mapRoles[{i}]") for i, (arn, username, groups) in enumerate(mappings)), (), (), ())


def users(*mappings: tuple[str, str | None, tuple[str, ...]]) -> AwsAuth:
    return AwsAuth((), tuple(AuthMapping("user", arn, username, groups, f"mapUsers[{i}]") for i, (arn, username, groups) in enumerate(mappings)), (), ())


def standard(arn: str, username: str | None = None, groups: tuple[str, ...] = (), policies=(), reason: str = "", source: str = "mapRoles[0]") -> PlannedEntry:
    return PlannedEntry(arn, "STANDARD", username, groups, policies, "create", reason, source)


NODE_GROUPS = ("system:bootstrappers", "system:nodes")
EC2_NODE = "system:node:{{EC2PrivateDNSName}}"
FARGATE_NODE = "system:node:{{SessionName}}"


# --- the whole of a real-shaped aws-auth -----------------------------------------------------


def test_a_cluster_with_managed_nodes_fargate_windows_sso_users_and_accounts():
    result = plan(parse_aws_auth((FIXTURES / "aws-auth.yaml").read_text()))
    assert result.entries == (
        PlannedEntry(role_arn("eks-managed-ng-NodeInstanceRole-1A2B3C4D"), "EC2_LINUX", None, (), (), "managed", MANAGED_REASON, "mapRoles[0]"),
        PlannedEntry(role_arn("eks-fargate-pod-execution-role"), "FARGATE_LINUX", None, (), (), "managed", MANAGED_REASON, "mapRoles[1]"),
        PlannedEntry(role_arn("windows-self-managed-NodeInstanceRole"), "EC2_WINDOWS", None, (), (), "create",
                     "self-managed Windows nodes: EKS sets the username and groups of node entries", "mapRoles[2]"),
        # aws-auth names SSO roles without their path; the entry needs it
        standard(f"arn:aws:iam::{ACCOUNT}:role/{SSO_PATH}AWSReservedSSO_AdministratorAccess_0123456789abcdef", "sso-admin:{{SessionName}}",
                 policies=ADMIN, reason=MASTERS_NOTE, source="mapRoles[3]"),
        standard(f"arn:aws:iam::{ACCOUNT}:role/{SSO_PATH}AWSReservedSSO_ReadOnly_fedcba9876543210", None, ("viewers",),
                 reason="username {{SessionName}} not carried (EKS takes {{SessionName}} only after a colon): EKS's default "
                 f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/{{{{SessionName}}}} is used, "
                 "so RBAC bindings naming the old username stop matching", source="mapRoles[4]"),
        standard(role_arn("ci-deployer"), "ci-deployer", ("deployers",), source="mapRoles[5]"),
        standard(f"arn:aws:iam::{PARTNER}:role/partner-readonly", f"partner:{PARTNER}:{{{{SessionNameRaw}}}}", ("viewers",),
                 reason=f"a role of trusted account {PARTNER}: its ARN is kept as written (its path, if it has one, is not checked)", source="mapRoles[6]"),
        standard(f"arn:aws:iam::{ACCOUNT}:user/alice", "alice", policies=ADMIN, reason=MASTERS_NOTE, source="mapUsers[0]"),
        standard(f"arn:aws:iam::{ACCOUNT}:user/bob", None, ("developers",), source="mapUsers[1]"),  # its username is EKS's default
    )
    assert result.not_carried == (
        NotCarried("mapRoles[5] group system:authenticated", "mapRoles[5]", RESERVED_GROUP_REASON),
        NotCarried("444455556666", "mapAccounts[0]", ACCOUNT_REASON),
    )


def test_the_json_output_plans_the_same():
    assert plan(parse_aws_auth((FIXTURES / "aws-auth.json").read_text())) == plan(parse_aws_auth((FIXTURES / "aws-auth.yaml").read_text()))


def test_the_plan_is_deterministic_and_asks_iam_about_same_account_roles_only():
    asked: list[str] = []

    def recording(name: str) -> str | None:
        asked.append(name)
        return resolve(name)

    auth = parse_aws_auth((FIXTURES / "aws-auth.yaml").read_text())
    first = map_aws_auth(auth, cluster_account=ACCOUNT, trusted_accounts=frozenset({PARTNER}), resolve_role=recording, eks_managed_roles=MANAGED)
    assert first == plan(auth)
    assert asked == [  # in aws-auth order; never partner-readonly (another account) nor the users
        "eks-managed-ng-NodeInstanceRole-1A2B3C4D",
        "eks-fargate-pod-execution-role",
        "windows-self-managed-NodeInstanceRole",
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "AWSReservedSSO_ReadOnly_fedcba9876543210",
        "ci-deployer",
    ]


# --- node roles and Fargate ------------------------------------------------------------------


def test_self_managed_linux_nodes():
    result = plan(roles((role_arn("ci-deployer"), EC2_NODE, NODE_GROUPS)), managed=frozenset())
    assert result.entries == (PlannedEntry(role_arn("ci-deployer"), "EC2_LINUX", None, (), (), "create",
                                           "self-managed Linux nodes: EKS sets the username and groups of node entries", "mapRoles[0]"),)


def test_a_fargate_role_of_no_profile_is_created():
    result = plan(roles((role_arn("eks-fargate-pod-execution-role"), FARGATE_NODE, NODE_GROUPS + ("system:node-proxier",))), managed=frozenset())
    assert [(e.entry_type, e.status, e.reason) for e in result.entries] == [
        ("FARGATE_LINUX", "create", "a Fargate pod execution role: EKS sets the username and groups of node entries")]


def test_a_managed_role_is_recognised_by_the_arn_iam_gives():
    # aws-auth names the role without its path and in any case; iam:GetRole answers with both
    real = f"arn:aws:iam::{ACCOUNT}:role/nodes/eks-ng-NodeInstanceRole"
    auth = roles((f"arn:aws:iam::{ACCOUNT}:role/EKS-NG-NodeInstanceRole", EC2_NODE, NODE_GROUPS))
    result = map_aws_auth(auth, cluster_account=ACCOUNT, trusted_accounts=frozenset(), eks_managed_roles=frozenset({real}),
                          resolve_role=lambda name: real if name.lower() == "eks-ng-nodeinstancerole" else None)
    assert [(e.principal_arn, e.entry_type, e.status) for e in result.entries] == [(real, "EC2_LINUX", "managed")]


def test_groups_beyond_a_nodes_own_are_not_carried():
    result = plan(roles((role_arn("windows-self-managed-NodeInstanceRole"), EC2_NODE, NODE_GROUPS + ("system:masters", "ops"))))
    assert [e.entry_type for e in result.entries] == ["EC2_LINUX"]
    reason = "node entries carry no groups or policies: EKS sets them"
    assert result.not_carried == (NotCarried("mapRoles[0] group system:masters", "mapRoles[0]", reason),
                                  NotCarried("mapRoles[0] group ops", "mapRoles[0]", reason))


@pytest.mark.parametrize(("arn", "username", "groups", "reason"), [
    (role_arn("ci-deployer"), FARGATE_NODE, NODE_GROUPS,  # e.g. hybrid nodes: no type guessed
     "maps to a Kubernetes node (username system:node:{{SessionName}}, groups system:bootstrappers, system:nodes) but not as "
     "EC2 or Fargate nodes are mapped: choose its node entry type by hand (e.g. HYBRID_LINUX)"),
    (role_arn("ci-deployer"), "node-{{SessionName}}", NODE_GROUPS,
     "maps to a Kubernetes node (username node-{{SessionName}}, groups system:bootstrappers, system:nodes) but not as "
     "EC2 or Fargate nodes are mapped: choose its node entry type by hand (e.g. HYBRID_LINUX)"),
    (f"arn:aws:iam::{ACCOUNT}:user/node", EC2_NODE, NODE_GROUPS, "a node mapping of an IAM user: node entries take IAM roles only"),
    (f"arn:aws:iam::{PARTNER}:role/nodes", EC2_NODE, NODE_GROUPS,
     f"a node role of account {PARTNER}: node entries take roles of the cluster's account only"),
])
def test_node_mappings_that_have_no_node_entry(arn, username, groups, reason):
    result = plan(roles((arn, username, groups)))
    assert result == MappingPlan((), (NotCarried(arn, "mapRoles[0]", reason),))


def test_a_managed_role_mapped_as_no_node_is_not_carried():
    arn = role_arn("eks-managed-ng-NodeInstanceRole-1A2B3C4D")
    result = plan(roles((arn, "admin", ("system:masters",))))
    assert result == MappingPlan((), (NotCarried(arn, "mapRoles[0]", "the role of a managed node group or Fargate profile mapped as no node: its one entry is EKS's node entry"),))


# --- principals that cannot have an entry ----------------------------------------------------


@pytest.mark.parametrize(("arn", "reason"), [
    (f"arn:aws:iam::{ACCOUNT}:role/deleted-role", f"no role named deleted-role in the cluster's account {ACCOUNT}"),
    ("arn:aws:iam::999988887777:role/stranger", f"account 999988887777 is neither the cluster's ({ACCOUNT}) nor a trusted account"),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/session", "an STS ARN (a role session or federated user): access entries take IAM roles and users only"),
    (f"arn:aws:iam::{ACCOUNT}:root", "not an IAM role or user (root): access entries take IAM roles and users only"),
    (f"arn:aws:iam::{ACCOUNT}:group/admins", "not an IAM role or user (group): access entries take IAM roles and users only"),
    (f"arn:aws-cn:iam::{ACCOUNT}:role/ci-deployer", "partition aws-cn, not the cluster's (aws)"),
    ("arn:aws:iam::1234:role/short-account", "not a valid IAM ARN"),
    ("ci-deployer", "not a valid IAM ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/", "not a valid IAM ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForAmazonEKSNodegroup", SERVICE_LINKED_REASON),  # its path comes from IAM
    (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS", SERVICE_LINKED_REASON),
    (f"arn:aws:iam::{ACCOUNT}:role/teams/dev",
     "a role ARN written with its path: aws-iam-authenticator matches roles by their ARN without path, so this mapping never matched "
     "(kubernetes-sigs/aws-iam-authenticator#268); an entry would grant access the cluster does not give today"),
])
def test_principals_not_carried(arn, reason):
    assert plan(roles((arn, "someone", ("viewers",)))) == MappingPlan((), (NotCarried(arn, "mapRoles[0]", reason),))


def test_every_account_mapping_is_not_carried():
    auth = parse_aws_auth('{"kind": "ConfigMap", "data": {"mapAccounts": "- 444455556666\\n- \\"111122223333\\"\\n"}}')
    assert plan(auth).not_carried == (NotCarried("444455556666", "mapAccounts[0]", ACCOUNT_REASON),
                                      NotCarried(ACCOUNT, "mapAccounts[1]", ACCOUNT_REASON))


def test_one_entry_per_principal():
    # aws-auth holds one mapping per ARN (parse_aws_auth); two ARNs IAM resolves to one role still get one entry
    auth = roles((role_arn("ci-deployer"), None, ("a",)), (f"arn:aws:iam::{ACCOUNT}:role/ci-deployer", None, ("b",)))
    result = map_aws_auth(auth, cluster_account=ACCOUNT, trusted_accounts=frozenset(), resolve_role=lambda name: role_arn("ci-deployer"),
                          eks_managed_roles=frozenset())
    assert result.entries == (standard(role_arn("ci-deployer"), groups=("a",)),)
    assert result.not_carried == (NotCarried(role_arn("ci-deployer"), "mapRoles[1]", "the same principal as mapRoles[0], which is planned"),)


# --- usernames ---------------------------------------------------------------------------------


def username_of(username: str | None, arn: str = "") -> tuple[str | None, str]:
    arn = arn or role_arn("ci-deployer")
    auth = roles((arn, username, ())) if ":role/" in arn else users((arn, username, ()))
    (entry,) = plan(auth).entries
    return entry.username, entry.reason


def dropped(username: str, why: str, default: str = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/{{{{SessionName}}}}") -> tuple[None, str]:
    return None, f"username {username} not carried ({why}): EKS's default {default} is used, so RBAC bindings naming the old username stop matching"


@pytest.mark.parametrize(("username", "expected"), [
    (None, (None, "")),
    ("ci", ("ci", "")),
    ("ci:{{SessionName}}", ("ci:{{SessionName}}", "")),
    ("c:i-{{SessionNameRaw}}", ("c:i-{{SessionNameRaw}}", "")),
    ("ci-{{AccountID}}", (f"ci-{ACCOUNT}", "")),
    ("{{AccountID}}:{{SessionName}}", (f"{ACCOUNT}:{{{{SessionName}}}}", "")),  # the account's colon comes first
    # EKS's own default, written out in aws-auth: left to EKS
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/{{{{SessionName}}}}", (None, "")),
    ("arn:aws:sts::{{AccountID}}:assumed-role/ci-deployer/{{SessionName}}", (None, "")),
    ("ci-{{SessionName}}", dropped("ci-{{SessionName}}", "EKS takes {{SessionName}} only after a colon")),
    ("{{SessionNameRaw}}:x", dropped("{{SessionNameRaw}}:x", "EKS takes {{SessionName}} only after a colon")),
    ("system:admin", dropped("system:admin", "it starts with a reserved prefix")),
    ("eks:ci", dropped("eks:ci", "it starts with a reserved prefix")),
    ("ci:{{AccessKeyID}}", dropped("ci:{{AccessKeyID}}", "EKS does not fill {{AccessKeyID}}")),
    ("ci:{{EC2PrivateDNSName}}", dropped("ci:{{EC2PrivateDNSName}}", "EKS does not fill {{EC2PrivateDNSName}}")),
])
def test_role_usernames(username, expected):
    assert username_of(username) == expected


def test_user_usernames():
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert username_of("alice", alice) == ("alice", "")
    assert username_of(alice, alice) == (None, "")  # EKS's default for a user: its ARN
    assert username_of("{{SessionName}}", alice) == dropped("{{SessionName}}", "EKS takes {{SessionName}} only after a colon", default=alice)


def test_a_users_arn_keeps_its_path():
    arn = f"arn:aws:iam::{ACCOUNT}:user/engineering/alice"
    assert plan(users((arn, "alice", ("devs",)))).entries == (standard(arn, "alice", ("devs",), source="mapUsers[0]"),)


def test_the_default_username_of_an_sso_role_has_no_path():
    arn = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_ReadOnly_fedcba9876543210"
    default = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnly_fedcba9876543210/{{{{SessionName}}}}"
    (entry,) = plan(roles((arn, default, ("viewers",)))).entries
    assert (entry.principal_arn, entry.username) == (f"arn:aws:iam::{ACCOUNT}:role/{SSO_PATH}AWSReservedSSO_ReadOnly_fedcba9876543210", None)


# --- groups ------------------------------------------------------------------------------------


def test_groups_kept_dropped_and_system_masters():
    arn = role_arn("ci-deployer")
    result = plan(roles((arn, "ci", ("system:masters", "ops", "system:authenticated", "eks:addon-manager", "team-{{AccountID}}", "{{SessionName}}", "ops"))))
    assert result.entries == (standard(arn, "ci", ("ops", f"team-{ACCOUNT}"), ADMIN, MASTERS_NOTE),)
    assert result.not_carried == (
        NotCarried("mapRoles[0] group system:authenticated", "mapRoles[0]", RESERVED_GROUP_REASON),
        NotCarried("mapRoles[0] group eks:addon-manager", "mapRoles[0]", RESERVED_GROUP_REASON),
        NotCarried("mapRoles[0] group {{SessionName}}", "mapRoles[0]", "a group template: only aws-iam-authenticator fills {{...}} in groups"),
    )
    assert RESERVED_GROUP_REASON == "access entries refuse Kubernetes groups starting with system:, eks:, aws:, amazon:, iam:"


def test_notes_of_one_entry_are_joined():
    arn = f"arn:aws:iam::{PARTNER}:role/ops"
    (entry,) = plan(roles((arn, "ops-{{SessionName}}", ("system:masters",)))).entries
    assert entry.reason == "; ".join([
        MASTERS_NOTE,
        "username ops-{{SessionName}} not carried (EKS takes {{SessionName}} only after a colon): EKS's default "
        f"arn:aws:sts::{PARTNER}:assumed-role/ops/{{{{SessionName}}}} is used, so RBAC bindings naming the old username stop matching",
        f"a role of trusted account {PARTNER}: its ARN is kept as written (its path, if it has one, is not checked)",
    ])
