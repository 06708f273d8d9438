"""What the SCPs cannot prevent, rule by rule, and what of eks-guardrail covers it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config import OrgRules
from .statements import enabled_rules


@dataclass(frozen=True)
class Gap:
    #: The rule concerned; None for what holds for every statement.
    rule: str | None
    gap: str
    covered_by: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


_UPDATE = (
    "UpdateAccessEntry carries no request key for the new username or groups (its eks:username and "
    "eks:kubernetesGroups are the entry's current ones)"
)

RULE_GAPS: dict[str, list[Gap]] = {
    "reserved-prefix": [
        Gap("reserved-prefix", f"{_UPDATE}: an update to a reserved username or group cannot be denied",
            "the access-entry handler judges every UpdateAccessEntry; with rollback it restores the last known good username and groups"),
    ],
    "custom-username": [
        Gap("custom-username", f"{_UPDATE}: a username set by an update cannot be denied",
            "the access-entry handler judges every UpdateAccessEntry and alerts"),
    ],
    "protected-entry": [
        Gap("protected-entry",
            "DeleteAccessEntry, UpdateAccessEntry and DisassociateAccessPolicy have no request keys: they are denied by the "
            "entry's own eks:principalArn (a key of the access-entry resource in the Service Authorization Reference, not "
            "seen on a live call); an entry also goes with its cluster (DeleteCluster), and stops working when its IAM "
            "principal is deleted or recreated",
            "the guardrail restores a protected entry from the ledger (handlers and sweep), whatever removed or weakened it"),
    ],
    "node-entry-principal": [
        Gap("node-entry-principal",
            "an SCP cannot read a role's trust policy: without node_roles no statement is written, with node_roles only those "
            "roles get node, Fargate or hybrid entries; entry types newer than today's list are not named",
            "the handler and the sweep read the role's trust policy (iam:GetRole) and alert"),
    ],
    "stale-principal": [
        Gap("stale-principal",
            "no EKS call is made: the IAM principal is deleted or recreated (IAM DeleteRole/DeleteUser, CreateRole), leaving "
            "its entry dangling or stale",
            "the IAM-principal handler and the sweep"),
    ],
    "grants-nothing": [
        Gap("grants-nothing",
            "an entry that grants nothing is two calls apart (create, then associate or not): no single request shows it",
            "the sweep and `eks-guardrail scan`"),
    ],
}

GENERAL_GAPS = [
    Gap(None, "SCPs do not apply to the management account's principals or to service-linked roles",
        "the guardrail judges every call CloudTrail records, whoever made it"),
    Gap(None, "the excepted callers (exemptions.principals; the guardrail's roles) pass every statement",
        "the guardrail still judges the exempt principals' calls"),
    Gap(None, "whoever can create an IAM role named like the guardrail's (eks-guardrail-<function>-<region>) passes every "
        "statement",
        "nothing in eks-guardrail, which ignores its own roles' calls as well: keep those names for the deployment (for "
        "example an SCP denying iam:CreateRole on role/eks-guardrail-* to all but the deploying role)"),
]


def gaps_for(org: OrgRules) -> list[Gap]:
    """The gaps of the rules that are on, then those of every SCP."""
    return [gap for rule_id in enabled_rules(org) for gap in RULE_GAPS.get(rule_id, [])] + GENERAL_GAPS
