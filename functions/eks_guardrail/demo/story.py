"""`eks-guardrail demo`: the whole story offline, on the emulator.

A cluster in API mode with a protected platform-admin role; then bad changes made through
boto3 by a developer; their CloudTrail events routed by EventBridge (the stack's pattern)
into the handler; rollbacks; alerts in SNS and in a Slack webhook on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TextIO

from botocore.exceptions import ClientError

from ..config import OrgRules
from ..local import mock_aws
from .slack_receiver import SlackReceiver
from .world import ACCOUNT, CLUSTER_ADMIN, LocalWorld, create_world

EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
CLUSTER = "prod"


@dataclass(frozen=True)
class BadChange:
    title: str
    make: Callable[[LocalWorld], None]
    #: The rules that must catch it; none for a call AWS itself rejects.
    rules: tuple[str, ...]


def _mallory_cluster_admin(world: LocalWorld) -> None:
    world.platform.client("iam").create_user(UserName="mallory")
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=mallory)
    eks.associate_access_policy(clusterName=CLUSTER, principalArn=mallory, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})


def _system_masters(world: LocalWorld) -> None:
    world.eks("attacker").create_access_entry(clusterName=CLUSTER, principalArn=world.role_arn("Developer"), kubernetesGroups=["system:masters"])


def _reserved_group(world: LocalWorld) -> None:
    world.platform.client("iam").create_role(RoleName="ci", AssumeRolePolicyDocument="{}")
    world.eks("attacker").create_access_entry(clusterName=CLUSTER, principalArn=world.role_arn("ci"), kubernetesGroups=["platform:admins"])


def _cross_account(world: LocalWorld) -> None:
    world.eks("attacker").create_access_entry(clusterName=CLUSTER, principalArn="arn:aws:iam::999988887777:role/Auditor")


def _delete_protected(world: LocalWorld) -> None:
    world.eks("attacker").delete_access_entry(clusterName=CLUSTER, principalArn=world.role_arn("Platform"))


BAD_CHANGES = [
    BadChange("an IAM user (mallory) is granted cluster admin", _mallory_cluster_admin, ("prefer-roles", "admin-policy")),
    BadChange("the developer tries the group system:masters (AWS rejects it)", _system_masters, ()),
    BadChange("a CI role is put in the reserved group platform:admins", _reserved_group, ("reserved-prefix",)),
    BadChange("a principal from an untrusted account gets an entry", _cross_account, ("cross-account",)),
    BadChange("the protected platform-admin entry is deleted", _delete_protected, ("protected-entry",)),
]


def run_demo(org: OrgRules, out: TextIO) -> int:
    """Run the story; 0 when every planted violation was caught and undone."""
    with mock_aws(), SlackReceiver() as slack:
        world = create_world()
        world.platform.client("secretsmanager").create_secret(Name="eks-guardrail/slack", SecretString=f'{{"webhook_url": "{slack.url}"}}')
        app = world.app(org, slack_secret_name="eks-guardrail/slack")
        say = _Printer(out)

        say.title(f"1. Set-up: cluster {CLUSTER} (API mode), a protected Platform admin role, a Developer with Edit on web")
        _set_up(world)
        for result in _deliver_all(world, app):
            say.result(result)
        before = world.entries(CLUSTER)
        say.entries("Access entries before", before)
        world.alerts()

        say.title("2. Bad changes, made through boto3 as the Developer role")
        caught: dict[str, bool] = {}
        for number, change in enumerate(BAD_CHANGES, 1):
            say.step(f"2.{number} {change.title}")
            try:
                change.make(world)
            except ClientError as error:
                say.line(f"AWS rejected the call: {error.response['Error']['Code']}: {error.response['Error']['Message']}")
            results = _deliver_all(world, app)
            if not results:
                say.line("no event reached the guardrail (the pattern drops failed calls)")
            for result in results:
                say.result(result)
            outcomes = [o for r in results for o in r.get("outcomes", [])]
            for rule in change.rules:
                # A rule's change may already be gone with an earlier rollback of the same story
                # (deleting mallory's entry removed her policy too): that counts as undone.
                statuses = {o["status"] for o in outcomes if o["rule"] == rule}
                caught[rule] = bool(statuses) and statuses <= {"rolled-back", "already-undone"}
            if change.rules and not any(o["status"] == "rolled-back" for o in outcomes):
                caught[change.title] = False

        say.title("3. Alerts")
        sns = world.alerts()
        say.line(f"SNS topic: {len(sns)} message(s); Slack webhook on 127.0.0.1: {len(slack.messages)} message(s)")
        for note in sns:
            say.line(f"  {note['subject']}")

        after = world.entries(CLUSTER)
        say.title("4. Result")
        say.entries("Access entries after", after)
        restored = after == before
        for rule, ok in caught.items():
            say.line(f"{'caught and undone' if ok else 'NOT undone':<18} {rule}")
        say.line("access entries are back to where they were" if restored else "access entries DIFFER from before")
        success = restored and all(caught.values()) and len(slack.messages) == len(sns) > 0
        say.line("demo: every planted violation was caught, undone and alerted" if success else "demo: FAILED")
        return 0 if success else 1


def _deliver_all(world: LocalWorld, app: Any) -> list[dict[str, Any]]:
    """Deliver until no event is left: the guardrail's own calls make events too (and skip them)."""
    results: list[dict[str, Any]] = []
    while batch := world.deliver(app):
        results += batch
    return results


def _set_up(world: LocalWorld) -> None:
    eks = world.eks("platform")
    eks.create_cluster(
        name=CLUSTER,
        roleArn=world.role_arn("Platform"),
        resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]},
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    platform, developer = world.role_arn("Platform"), world.role_arn("Developer")
    eks.create_access_entry(clusterName=CLUSTER, principalArn=platform, tags={"owner": "platform"})
    eks.associate_access_policy(clusterName=CLUSTER, principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    eks.create_access_entry(clusterName=CLUSTER, principalArn=developer, tags={"owner": "web"})
    eks.associate_access_policy(clusterName=CLUSTER, principalArn=developer, policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["web"]})


class _Printer:
    def __init__(self, out: TextIO):
        self.out = out

    def title(self, text: str) -> None:
        self.out.write(f"\n== {text}\n")

    def step(self, text: str) -> None:
        self.out.write(f"\n-- {text}\n")

    def line(self, text: str) -> None:
        self.out.write(f"   {text}\n")

    def result(self, result: dict[str, Any]) -> None:
        if result["status"] == "skipped":
            self.line(f"event {result['event_id'][:8]}: skipped ({result['reason']})")
            return
        if not result["outcomes"]:
            self.line(f"event {result['event_id'][:8]}: complies; the ledger records it")
        for outcome in result["outcomes"]:
            self.line(f"event {result['event_id'][:8]}: {outcome['rule']}: {outcome['status']}: {outcome['detail']}")

    def entries(self, title: str, entries: dict[str, list[str]]) -> None:
        self.line(f"{title}:")
        for principal in sorted(entries):
            self.line(f"  {principal:<55} {', '.join(entries[principal]) or '-'}")
