"""What the engine adds to every rule: mode, exemptions, severity overrides, `off`."""

from __future__ import annotations

import cloudtrail_builder as ct
from eks_guardrail.changes import parse_event
from eks_guardrail.config import org_rules_from_data
from eks_guardrail.engine import ObservedState, evaluate, exemption_for

USER = ct.user_arn("mallory")
ROLLBACK_PREFER_ROLES = {"rules": {"prefer-roles": {"action": "rollback"}}}


def only(findings, rule):
    (finding,) = [f for f in findings if f.rule == rule]
    return finding


def test_monitor_mode_turns_rollbacks_into_alerts():
    change = parse_event(ct.create_access_entry(USER))
    finding = only(evaluate(change, org_rules_from_data(ROLLBACK_PREFER_ROLES)), "prefer-roles")
    assert (finding.action, finding.configured_action, finding.exempt) == ("alert", "rollback", False)


def test_enforce_mode_keeps_rollbacks():
    change = parse_event(ct.create_access_entry(USER))
    finding = only(evaluate(change, org_rules_from_data({"mode": "enforce", **ROLLBACK_PREFER_ROLES})), "prefer-roles")
    assert finding.action == "rollback"
    assert finding.severity == "medium"


def test_exempt_principal_is_reported_not_acted_on():
    org = org_rules_from_data({"mode": "enforce", "exemptions": {"principals": ["arn:aws:iam::*:user/mallory"]}, **ROLLBACK_PREFER_ROLES})
    finding = only(evaluate(parse_event(ct.create_access_entry(USER)), org), "prefer-roles")
    assert finding.exempt is True and finding.action == "alert"
    assert "exemption list" in (finding.exemption_reason or "")


TAG = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:user/alice"]}


def test_exemption_tag_on_the_new_entry():
    org = org_rules_from_data({"mode": "enforce", "exemptions": {"tag": TAG}, **ROLLBACK_PREFER_ROLES})
    tagged = parse_event(ct.create_access_entry(USER, tags={"guardrail": "exempt"}))
    assert only(evaluate(tagged, org), "prefer-roles").exempt is True
    other_value = parse_event(ct.create_access_entry(USER, tags={"guardrail": "no"}))
    assert only(evaluate(other_value, org), "prefer-roles").exempt is False


def test_exemption_tag_set_at_creation_by_someone_not_allowed_is_not_honoured():
    org = org_rules_from_data({"mode": "enforce", "exemptions": {"tag": {**TAG, "set_by": ["arn:aws:iam::*:role/Platform"]}}, **ROLLBACK_PREFER_ROLES})
    findings = evaluate(parse_event(ct.create_access_entry(USER, tags={"guardrail": "exempt"})), org)
    assert only(findings, "prefer-roles").exempt is False and only(findings, "prefer-roles").action == "rollback"
    assert only(findings, "exemption-tag").exempt is False


def test_exemption_patterns_never_cover_a_stranger_account_unless_named():
    org = org_rules_from_data({"mode": "enforce", "exemptions": {"principals": ["arn:aws:iam::*:role/BreakGlass"]}, "trusted_accounts": ["111122223333"],
                               "rules": {"cross-account": {"action": "rollback"}}})
    own, trusted, stranger = (ct.role_arn("BreakGlass", account=a) for a in (ct.ACCOUNT, "111122223333", "999988887777"))
    assert exemption_for(parse_event(ct.create_access_entry(own)), org) is not None
    assert exemption_for(parse_event(ct.create_access_entry(trusted)), org) is not None
    finding = only(evaluate(parse_event(ct.create_access_entry(stranger)), org), "cross-account")
    assert finding.exempt is False and finding.action == "rollback"
    named = org_rules_from_data({"exemptions": {"principals": ["arn:aws:iam::999988887777:role/BreakGlass"]}})
    assert exemption_for(parse_event(ct.create_access_entry(stranger)), named) is not None


def test_exemption_tag_from_observed_cluster_and_entry_state():
    org = org_rules_from_data({"mode": "enforce", "exemptions": {"tag": TAG}, "rules": {"admin-policy": {"action": "rollback"}}})
    change = parse_event(ct.associate_access_policy(ct.role_arn("Dev"), "AmazonEKSClusterAdminPolicy"))
    assert only(evaluate(change, org), "admin-policy").exempt is False
    by_cluster = only(evaluate(change, org, ObservedState(cluster_tags={"guardrail": "exempt"})), "admin-policy")
    assert by_cluster.exempt and by_cluster.exemption_reason == "the cluster carries the exemption tag guardrail=exempt"
    by_entry = only(evaluate(change, org, ObservedState(entry_tags={"guardrail": "exempt"})), "admin-policy")
    assert by_entry.exempt and by_entry.action == "alert"


def test_exemption_tag_on_a_new_cluster():
    org = org_rules_from_data({"exemptions": {"tag": TAG}})
    change = parse_event(ct.create_cluster("lab", mode="API", bootstrap=True, tags={"guardrail": "exempt"}))
    assert only(evaluate(change, org), "bootstrap-admin").exempt is True


def test_action_off_and_severity_override():
    change = parse_event(ct.create_access_entry(USER, username="mallory"))
    org = org_rules_from_data({"rules": {"prefer-roles": {"action": "off"}, "custom-username": {"severity": "high"}}})
    findings = evaluate(change, org)
    assert {f.rule for f in findings} == {"custom-username"}
    assert findings[0].severity == "high"


def test_findings_serialise_with_the_documented_fields():
    finding = only(evaluate(parse_event(ct.create_access_entry(USER)), org_rules_from_data({})), "prefer-roles")
    data = finding.to_dict()
    for key in ("rule", "severity", "action", "exempt", "message", "principal_arn", "cluster", "actor_arn", "event_id", "account", "region"):
        assert key in data
    assert data["principal_arn"] == USER and data["cluster"] == "prod"


# --- ObservedState.principal_trusted_services: what a node-type entry's role trusts ---------

HUMAN = ct.role_arn("Developer")


def test_the_trust_field_is_unknown_unless_the_caller_read_it():
    assert ObservedState().principal_trusted_services is None
    change = parse_event(ct.create_access_entry(HUMAN, entry_type="FARGATE_LINUX"))
    assert [f.rule for f in evaluate(change, org_rules_from_data({}))] == []  # unknown trust: no guessing
    assert [f.rule for f in evaluate(change, org_rules_from_data({}), ObservedState(principal_trusted_services=None))] == []


def test_a_known_trust_policy_decides_a_node_type_entry():
    org = org_rules_from_data({})
    change = parse_event(ct.create_access_entry(HUMAN, entry_type="FARGATE_LINUX"))
    human = ObservedState(principal_trusted_services=frozenset())
    finding = only(evaluate(change, org, human), "node-entry-principal")
    assert (finding.severity, finding.action, finding.configured_action, finding.exempt) == ("high", "alert", "alert", False)
    assert finding.principal_arn == HUMAN and "eks-fargate-pods.amazonaws.com" in finding.message
    pods = ObservedState(principal_trusted_services=frozenset({"eks-fargate-pods.amazonaws.com"}))
    assert evaluate(change, org, pods) == []
    nodes = ObservedState(principal_trusted_services=frozenset({"ec2.amazonaws.com"}))  # a node role, not a pod execution role
    assert only(evaluate(change, org, nodes), "node-entry-principal").rule == "node-entry-principal"


def test_exemptions_severity_and_off_apply_to_findings_decided_by_trust():
    change = parse_event(ct.create_access_entry(HUMAN, entry_type="HYBRID_LINUX"))
    state = ObservedState(entry_type="HYBRID_LINUX", principal_trusted_services=frozenset())
    by_principal = org_rules_from_data({"exemptions": {"principals": [HUMAN]}, "rules": {"node-entry-principal": {"severity": "critical"}}})
    finding = only(evaluate(change, by_principal, state), "node-entry-principal")
    assert finding.exempt and finding.severity == "critical" and finding.action == "alert"
    assert evaluate(change, org_rules_from_data({"rules": {"node-entry-principal": {"action": "off"}}}), state) == []


def test_node_type_entries_with_state_are_still_judged_only_by_node_rules():
    org = org_rules_from_data({"rules": {"required-tags": {"tags": ["owner"]}}})
    change = parse_event(ct.create_access_entry(ct.user_arn("mallory"), entry_type="EC2_LINUX"))
    rules = {f.rule for f in evaluate(change, org, ObservedState(principal_trusted_services=frozenset()))}
    assert rules == {"node-entry-principal", "required-tags"}  # prefer-roles does not judge node entries


def test_the_engine_passes_its_state_only_to_checks_that_declare_they_need_it(monkeypatch):
    from dataclasses import replace

    from eks_guardrail.findings import Violation
    from eks_guardrail.rules import REGISTRY

    assert sorted(rule_id for rule_id, spec in REGISTRY.items() if spec.needs_state) == ["node-entry-principal"]
    seen: list[tuple] = []

    def three(change, settings, org):  # every other rule keeps its 3-argument check
        seen.append(("three",))
        yield Violation(f"{change.meta.actor.arn} three on {change.cluster}")

    def four(change, settings, org, state):
        seen.append(("four", state))
        yield Violation(f"{change.meta.actor.arn} four on {change.cluster}")

    monkeypatch.setitem(REGISTRY, "custom-username", replace(REGISTRY["custom-username"], check=three))
    monkeypatch.setitem(REGISTRY, "node-entry-principal", replace(REGISTRY["node-entry-principal"], check=four))
    change = parse_event(ct.create_access_entry(HUMAN))
    state = ObservedState(principal_trusted_services=frozenset({"ec2.amazonaws.com"}))
    findings = evaluate(change, org_rules_from_data({}), state)
    assert {"custom-username", "node-entry-principal"} <= {f.rule for f in findings}
    assert seen == [("three",), ("four", state)]
    seen.clear()
    evaluate(change, org_rules_from_data({}))
    assert seen == [("three",), ("four", ObservedState())]  # no state given: an empty one, never None
