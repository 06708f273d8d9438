"""Map what aws-auth grants to access entries: one planned entry per principal, and each thing
that cannot be carried over, with its reason. Pure: IAM and the cluster are asked by the caller.

What it relies on:
- EKS User Guide, "Migrating existing aws-auth ConfigMap entries to access entries"
  (awsdocs/amazon-eks-user-guide `latest/ug/manage-access/k8s-access/migrating-access-entries.adoc`):
  create entries for the mappings you added, not for those EKS wrote for managed node groups and
  Fargate profiles (EKS has or creates their entries; remove those mappings only once the entries
  exist); an access entry takes precedence over aws-auth for the same principal.
- docs/aws-facts.md B ("Create access entries"): aws-auth role ARNs carry no path, entries need
  it (IAM Identity Center roles: `role/aws-reserved/sso.amazonaws.com/<region>/...`); default
  usernames (user: its ARN; STANDARD role: `arn:aws:sts::<account>:assumed-role/<name>/{{SessionName}}`);
  `{{SessionName}}`/`{{SessionNameRaw}}` only with a colon before them; reserved prefixes for
  usernames and groups (`system:masters` is refused); no service-linked roles; node types take
  roles of the cluster's account only, without username, groups or policies.
- kubernetes-sigs/aws-iam-authenticator (81b1daba00d194c00d3cdd8b0a0fece5ba648d4e):
  `pkg/server/server.go` `renderTemplate` fills `{{EC2PrivateDNSName}}`, `{{AccountID}}` (the
  caller's account), `{{SessionName}}` (`@` -> `-`), `{{SessionNameRaw}}` and `{{AccessKeyID}}`,
  in usernames and groups alike; `pkg/arn/arn.go` `Canonicalize` turns a role session into the
  role's ARN *without* its path, which the ConfigMap mapper compares with the ARN as written, so a
  role ARN written with a path never matched anyone (issue #268); `doMapping` maps every principal
  of a mapAccounts account to its ARN with no groups.
- eksctl `pkg/actions/accessentry/migrator.go` (`eksctl utils migrate-to-access-entry`): nodes
  (`system:nodes`) -> EC2_LINUX, EC2_WINDOWS with `eks:kube-proxy-windows`; `system:masters` ->
  AmazonEKSClusterAdminPolicy on the cluster; account mappings have no access-entry form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

from ..arns import PrincipalArn, parse_principal_arn
from ..aws_catalog import AWS_RESERVED_PREFIXES, CLUSTER_ADMIN_POLICY, SERVICE_LINKED_ROLE_PATH, STANDARD, policy_arn
from ..sweep.judge import default_username
from .aws_auth import AuthMapping, AwsAuth

EC2_NODE_USERNAME = "system:node:{{EC2PrivateDNSName}}"
FARGATE_NODE_USERNAME = "system:node:{{SessionName}}"
NODE_GROUPS = frozenset({"system:bootstrappers", "system:nodes"})
FARGATE_GROUPS = NODE_GROUPS | {"system:node-proxier"}
WINDOWS_NODE_GROUP = "eks:kube-proxy-windows"
#: Groups a node mapping holds for being a node; EKS gives node entries these itself.
NODE_MAPPING_GROUPS = FARGATE_GROUPS | {WINDOWS_NODE_GROUP}
MASTERS_GROUP = "system:masters"
SESSION_TEMPLATES = ("{{SessionName}}", "{{SessionNameRaw}}")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_ACCOUNT_ID = re.compile(r"\d{12}")

NODE_KINDS = {
    "EC2_LINUX": "self-managed Linux nodes",
    "EC2_WINDOWS": "self-managed Windows nodes",
    "FARGATE_LINUX": "a Fargate pod execution role",
}
MANAGED_REASON = (
    "the role of a managed node group or Fargate profile: EKS creates its entry itself; "
    "remove the aws-auth mapping only once that entry exists"
)
ACCOUNT_REASON = (
    "mapAccounts lets every IAM principal of the account in (username: its ARN, no groups); "
    "access entries have no account-wide form: plan an entry for each principal that needs access"
)
RESERVED_GROUP_REASON = f"access entries refuse Kubernetes groups starting with {', '.join(AWS_RESERVED_PREFIXES)}"
SERVICE_LINKED_REASON = "a service-linked role: access entries refuse service-linked roles"


@dataclass(frozen=True)
class PlannedPolicy:
    policy_arn: str
    scope_type: Literal["cluster", "namespace"]
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedEntry:
    """The access entry a principal of aws-auth gets. `status`: `create`, or `managed` (EKS
    creates it for a managed node group or Fargate profile); `map_aws_auth` never sets `skip`,
    which is for callers that decide not to create an entry. `reason` says what changed."""

    principal_arn: str
    entry_type: str
    username: str | None
    groups: tuple[str, ...]
    policies: tuple[PlannedPolicy, ...]
    status: Literal["create", "managed", "skip"]
    reason: str
    source: str


@dataclass(frozen=True)
class NotCarried:
    """What aws-auth grants that no planned entry carries: a principal, an account, a group."""

    what: str
    source: str
    reason: str


@dataclass(frozen=True)
class MappingPlan:
    entries: tuple[PlannedEntry, ...]
    not_carried: tuple[NotCarried, ...]


@dataclass(frozen=True)
class _Cluster:
    account: str
    accounts: frozenset[str]  # the cluster's and the trusted ones
    resolve_role: Callable[[str], str | None]
    managed_roles: frozenset[str]  # lower-cased
    partition: str


def map_aws_auth(
    auth: AwsAuth,
    *,
    cluster_account: str,
    trusted_accounts: frozenset[str],
    resolve_role: Callable[[str], str | None],
    eks_managed_roles: frozenset[str],
    partition: str = "aws",
) -> MappingPlan:
    """Plan the access entries that replace `auth`, in aws-auth order (roles, then users).

    `resolve_role(name)` gives the ARN (with its path) of the cluster account's role of that
    name, or None when there is none; it is asked for same-account roles only. Roles of other
    accounts keep the ARN as written. `eks_managed_roles`: the ARNs (with path) of the roles of
    the cluster's managed node groups and Fargate profiles."""
    cluster = _Cluster(
        account=cluster_account,
        accounts=frozenset({cluster_account}) | trusted_accounts,
        resolve_role=resolve_role,
        managed_roles=frozenset(arn.lower() for arn in eks_managed_roles),
        partition=partition,
    )
    entries: list[PlannedEntry] = []
    not_carried: list[NotCarried] = []
    for mapping in auth.roles + auth.users:
        entry, dropped = _plan_mapping(mapping, cluster)
        earlier = _planned(entries, entry.principal_arn) if entry else None
        if earlier is not None:
            not_carried.append(NotCarried(mapping.arn, mapping.source, f"the same principal as {earlier.source}, which is planned"))
            continue
        if entry is not None:
            entries.append(entry)
        not_carried.extend(dropped)
    not_carried.extend(NotCarried(a.account, a.source, ACCOUNT_REASON) for a in auth.accounts)
    return MappingPlan(tuple(entries), tuple(not_carried))


def _plan_mapping(mapping: AuthMapping, cluster: _Cluster) -> tuple[PlannedEntry | None, list[NotCarried]]:
    principal = parse_principal_arn(mapping.arn)
    refusal = _refusal(principal, cluster)
    if principal is None or refusal:
        return None, [NotCarried(mapping.arn, mapping.source, refusal)]
    principal_arn = mapping.arn
    if principal.is_role and principal.account == cluster.account:
        resolved = cluster.resolve_role(principal.name)
        if resolved is None:
            return None, [NotCarried(mapping.arn, mapping.source, f"no role named {principal.name} in the cluster's account {cluster.account}")]
        real = parse_principal_arn(resolved)
        if real is not None and _is_service_linked(real):
            return None, [NotCarried(mapping.arn, mapping.source, SERVICE_LINKED_REASON)]
        principal_arn = resolved
    if _maps_a_node(mapping):
        return _node_entry(mapping, principal, principal_arn, cluster)
    if principal_arn.lower() in cluster.managed_roles:
        reason = "the role of a managed node group or Fargate profile mapped as no node: its one entry is EKS's node entry"
        return None, [NotCarried(mapping.arn, mapping.source, reason)]
    return _standard_entry(mapping, principal, principal_arn, cluster)


def _planned(entries: list[PlannedEntry], principal_arn: str) -> PlannedEntry | None:
    return next((e for e in entries if e.principal_arn.lower() == principal_arn.lower()), None)


def _refusal(principal: PrincipalArn | None, cluster: _Cluster) -> str:
    """Why a principal cannot have an entry of this cluster ("" when it can)."""
    if principal is None or not _ACCOUNT_ID.fullmatch(principal.account):
        return "not a valid IAM ARN"
    if principal.service == "sts":
        return "an STS ARN (a role session or federated user): access entries take IAM roles and users only"
    if not (principal.is_role or principal.is_user):
        return f"not an IAM role or user ({principal.kind}): access entries take IAM roles and users only"
    if principal.partition != cluster.partition:
        return f"partition {principal.partition}, not the cluster's ({cluster.partition})"
    if principal.account not in cluster.accounts:
        return f"account {principal.account} is neither the cluster's ({cluster.account}) nor a trusted account"
    if _is_service_linked(principal):
        return SERVICE_LINKED_REASON
    if principal.is_role and principal.path != "/":
        return (
            "a role ARN written with its path: aws-iam-authenticator matches roles by their ARN without path, so this "
            "mapping never matched (kubernetes-sigs/aws-iam-authenticator#268); an entry would grant access the cluster does not give today"
        )
    return ""


def _is_service_linked(principal: PrincipalArn) -> bool:
    return principal.is_role and principal.path.startswith(SERVICE_LINKED_ROLE_PATH)


# --- node roles ----------------------------------------------------------------------------


def _maps_a_node(mapping: AuthMapping) -> bool:
    return "system:nodes" in mapping.groups or (mapping.username or "").startswith("system:node:")


def _node_type(mapping: AuthMapping) -> str | None:
    """EC2_LINUX/EC2_WINDOWS/FARGATE_LINUX for the mappings EKS and its guides write for nodes."""
    groups = set(mapping.groups)
    if mapping.username == EC2_NODE_USERNAME and NODE_GROUPS <= groups:
        return "EC2_WINDOWS" if WINDOWS_NODE_GROUP in groups else "EC2_LINUX"
    if mapping.username == FARGATE_NODE_USERNAME and FARGATE_GROUPS <= groups:
        return "FARGATE_LINUX"
    return None


def _node_entry(mapping: AuthMapping, principal: PrincipalArn, principal_arn: str, cluster: _Cluster) -> tuple[PlannedEntry | None, list[NotCarried]]:
    entry_type = _node_type(mapping)
    refusal = ""
    if entry_type is None:
        refusal = (
            f"maps to a Kubernetes node (username {mapping.username}, groups {', '.join(mapping.groups)}) but not as "
            "EC2 or Fargate nodes are mapped: choose its node entry type by hand (e.g. HYBRID_LINUX)"
        )
    elif not principal.is_role:
        refusal = "a node mapping of an IAM user: node entries take IAM roles only"
    elif principal.account != cluster.account:
        refusal = f"a node role of account {principal.account}: node entries take roles of the cluster's account only"
    if refusal or entry_type is None:
        return None, [NotCarried(mapping.arn, mapping.source, refusal)]
    extra = [NotCarried(f"{mapping.source} group {g}", mapping.source, "node entries carry no groups or policies: EKS sets them")
             for g in mapping.groups if g not in NODE_MAPPING_GROUPS]
    managed = principal_arn.lower() in cluster.managed_roles
    reason = MANAGED_REASON if managed else f"{NODE_KINDS[entry_type]}: EKS sets the username and groups of node entries"
    entry = PlannedEntry(principal_arn, entry_type, None, (), (), "managed" if managed else "create", reason, mapping.source)
    return entry, extra


# --- STANDARD entries ----------------------------------------------------------------------


def _standard_entry(mapping: AuthMapping, principal: PrincipalArn, principal_arn: str, cluster: _Cluster) -> tuple[PlannedEntry, list[NotCarried]]:
    groups, policies, dropped, notes = _carried_groups(mapping, principal.account)
    username, username_note = _carried_username(mapping.username, principal_arn, principal.account)
    notes += [username_note] if username_note else []
    if principal.is_role and principal.account != cluster.account:
        notes.append(f"a role of trusted account {principal.account}: its ARN is kept as written (its path, if it has one, is not checked)")
    entry = PlannedEntry(principal_arn, STANDARD, username, groups, policies, "create", "; ".join(notes), mapping.source)
    return entry, dropped


def _carried_groups(mapping: AuthMapping, account: str) -> tuple[tuple[str, ...], tuple[PlannedPolicy, ...], list[NotCarried], list[str]]:
    """The groups an entry keeps, the policies that replace `system:masters`, the groups dropped, notes."""
    kept: list[str] = []
    policies: tuple[PlannedPolicy, ...] = ()
    dropped: list[NotCarried] = []
    notes: list[str] = []
    for written in mapping.groups:
        group = written.replace("{{AccountID}}", account)
        if group == MASTERS_GROUP:
            policies = (PlannedPolicy(policy_arn(CLUSTER_ADMIN_POLICY), "cluster"),)
            notes = [f"{MASTERS_GROUP} -> {CLUSTER_ADMIN_POLICY} on the cluster (the group is reserved in access entries)"]
        elif group.startswith(AWS_RESERVED_PREFIXES):
            dropped.append(NotCarried(f"{mapping.source} group {written}", mapping.source, RESERVED_GROUP_REASON))
        elif _TEMPLATE.search(group):
            dropped.append(NotCarried(f"{mapping.source} group {written}", mapping.source, "a group template: only aws-iam-authenticator fills {{...}} in groups"))
        elif group not in kept:
            kept.append(group)
    return tuple(kept), policies, dropped, notes


def _carried_username(written: str | None, principal_arn: str, account: str) -> tuple[str | None, str]:
    """The username an entry keeps (None: EKS's default), and a note when one was dropped."""
    if written is None:
        return None, ""
    default = default_username(principal_arn, STANDARD)
    username = written.replace("{{AccountID}}", account)
    if username == default:
        return None, ""
    unfit = _unfit_username(username)
    if unfit:
        return None, f"username {written} not carried ({unfit}): EKS's default {default} is used, so RBAC bindings naming the old username stop matching"
    return username, ""


def _unfit_username(username: str) -> str:
    """Why EKS would refuse this username ("" when it takes it)."""
    if username.startswith(AWS_RESERVED_PREFIXES):
        return "it starts with a reserved prefix"
    others = [t for t in _TEMPLATE.findall(username) if t not in SESSION_TEMPLATES]
    if others:
        return f"EKS does not fill {others[0]}"
    first_session = min((username.find(t) for t in SESSION_TEMPLATES if t in username), default=-1)
    if first_session >= 0 and ":" not in username[:first_session]:
        return "EKS takes {{SessionName}} only after a colon"
    return ""
