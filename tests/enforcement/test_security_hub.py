"""Security Hub (`security_hub: true`): every finding imported as ASFF into the account's default product, on moto,
end to end with the demo world; the workflow follows what the guardrail did; re-imports update, never duplicate."""

from __future__ import annotations

from eks_guardrail.alerts.security_hub import BATCH, SecurityHubSink, finding_id
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN

from world_helpers import enforce_rules
from .test_rollbacks import outcomes

REGION = "eu-west-1"


def _findings(world) -> dict[str, dict]:
    client = world.platform.client("securityhub", region_name=REGION)
    return {f["Id"]: f for f in client.get_findings()["Findings"]}


def test_a_rolled_back_violation_is_imported_resolved_and_a_repeat_updates_it(world):
    app = world.app(enforce_rules(security_hub=True))
    world.deliver(app)
    world.platform.client("iam").create_user(UserName="mallory")
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    for _ in range(2):  # the same violation twice: one Security Hub finding
        world.eks("attacker").create_access_entry(clusterName="prod", principalArn=mallory)
        results = world.deliver(app)
        assert ("prefer-roles", "rolled-back") in outcomes(results)
    findings = _findings(world)
    key = finding_id(ACCOUNT, REGION, "prod", mallory, "prefer-roles")
    assert list(findings) == [key]
    finding = findings[key]
    assert finding["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert finding["Workflow"]["Status"] == "RESOLVED" and finding["RecordState"] == "ARCHIVED"
    assert finding["Severity"]["Label"] == "MEDIUM" and finding["GeneratorId"] == "eks-guardrail/prefer-roles"
    (cluster, other) = finding["Resources"]
    assert cluster == {"Type": "AwsEksCluster", "Id": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod", "Region": REGION, "Details": {"AwsEksCluster": {"Name": "prod"}}}
    assert other["Type"] == "Other" and other["Details"]["Other"]["principalArn"] == mallory
    assert finding["ProductFields"]["eks-guardrail/actor"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Developer/developer"  # the attacker's session
    assert "rolled the change back" in finding["Remediation"]["Recommendation"]["Text"]


def test_an_alert_is_notified_and_a_refused_rollback_is_new(world):
    app = world.app(enforce_rules({"custom-username": {"action": "alert"}}, security_hub=True))
    world.deliver(app)
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer, username="dev:{{SessionName}}")
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    world.platform.client("eks", region_name=REGION).delete_access_entry(clusterName="prod", principalArn=world.role_arn("Platform"))
    app_without_protection = world.app(enforce_rules({"custom-username": {"action": "alert"}, "protected-entry": {"action": "off"}}, security_hub=True))
    results = world.deliver(app_without_protection)
    assert ("admin-policy", "refused") in outcomes(results)  # the attacker is the only admin left: lockout protection
    findings = _findings(world)
    assert findings[finding_id(ACCOUNT, REGION, "prod", developer, "custom-username")]["Workflow"]["Status"] == "NOTIFIED"
    refused = findings[finding_id(ACCOUNT, REGION, "prod", developer, "admin-policy")]
    assert refused["Workflow"]["Status"] == "NEW" and refused["RecordState"] == "ACTIVE" and refused["Severity"]["Label"] == "CRITICAL"
    assert "could not undo" in refused["Remediation"]["Recommendation"]["Text"]


def test_the_sweep_resolves_what_it_no_longer_sees(world):
    rules = enforce_rules({"custom-username": {"action": "alert"}}, security_hub=True)
    world.deliver(world.app(rules))
    developer = world.role_arn("Developer")
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=developer, username="dev:{{SessionName}}")
    world.pending_events()  # the event is lost: only the sweep sees the entry
    world.sweep_app(rules).handle()
    key = finding_id(ACCOUNT, REGION, "prod", developer, "custom-username")
    assert _findings(world)[key]["Workflow"]["Status"] == "NOTIFIED"
    world.eks("platform").delete_access_entry(clusterName="prod", principalArn=developer)
    world.pending_events()
    world.sweep_app(rules).handle()
    after = _findings(world)
    assert set(after) == {key, finding_id(ACCOUNT, REGION, "prod", developer, "grants-nothing")}  # updated, not duplicated
    assert {f["Workflow"]["Status"] for f in after.values()} == {"RESOLVED"}


def test_off_by_default(world, guardrail):
    world.platform.client("iam").create_user(UserName="mallory")
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{ACCOUNT}:user/mallory")
    world.deliver(guardrail)
    assert _findings(world) == {}


class _SecurityHub:
    def __init__(self, refuse: set[int]):
        self.calls, self.refuse = [], refuse

    def batch_import_findings(self, Findings):
        self.calls.append(len(Findings))
        failed = [{"Id": f["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "x"} for f in Findings if int(f["Id"]) in self.refuse]
        return {"FailedCount": len(failed), "SuccessCount": len(Findings) - len(failed), "FailedFindings": failed}


def test_imports_go_in_batches_of_100_and_refusals_are_counted():
    hub = _SecurityHub(refuse={5, 150})
    counted: list[int] = []
    sink = SecurityHubSink(lambda region: hub, on_failure=counted.append)
    documents = [{"Id": str(i), "ProductArn": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"} for i in range(250)]
    assert sink.send(documents) == 2
    assert hub.calls == [BATCH, BATCH, 50] and counted == [2]


def test_a_sweep_that_could_not_read_a_cluster_resolves_nothing_of_it():
    from eks_guardrail.handlers.sweep_app import gone_findings
    from eks_guardrail.sweep.run import SweepResult
    from eks_guardrail.sweep.snapshot import ClusterSnapshot

    seen = {"custom-username|eu-west-1|prod|arn:aws:iam::1:role/Dev|", "custom-username|eu-west-1|dev|arn:aws:iam::1:role/Dev|",
            "custom-username|eu-central-1|x|arn:aws:iam::1:role/Dev|", "custom-username|eu-west-1|deleted|arn:aws:iam::1:role/Dev|"}
    result = SweepResult(
        clusters=[ClusterSnapshot("eu-west-1", "prod"), ClusterSnapshot("eu-west-1", "dev", error="AccessDeniedException: no")],
        errors=["eu-west-1/dev: AccessDeniedException: no", "eu-central-1: cannot list clusters: throttled"],
    )
    gone = gone_findings(seen, result)
    assert gone == [("eu-west-1", "custom-username", "deleted", "arn:aws:iam::1:role/Dev"), ("eu-west-1", "custom-username", "prod", "arn:aws:iam::1:role/Dev")]
