"""The synthesised role policies grant exactly the EKS actions each function's code declares."""

from __future__ import annotations

import pytest

from conftest import HOME_STACK, OTHER_STACK
from eks_guardrail.permissions import eks_permissions, iam_permissions

ROLE_PREFIX = {"access-entry": "AccessEntryRole", "iam-principal": "IamPrincipalRole", "sweep": "SweepRole"}
CASES = [(HOME_STACK, "access-entry"), (HOME_STACK, "iam-principal"), (HOME_STACK, "sweep"), (OTHER_STACK, "access-entry")]


def _listify(value):
    return value if isinstance(value, list) else [value]


def role_statements(synth, stack: str, function: str) -> list[dict]:
    roles = [k for k in synth.resources(stack, "AWS::IAM::Role") if k.startswith(ROLE_PREFIX[function])]
    assert len(roles) == 1, roles
    statements = []
    for policy in synth.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": roles[0]} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = synth.raw[stack]["Resources"][roles[0]]["Properties"]
    for inline in role.get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    assert not role.get("ManagedPolicyArns"), "no managed policies on guardrail roles"
    return statements


@pytest.mark.parametrize(("stack", "function"), CASES)
def test_eks_actions_are_exactly_the_declared_ones(synth, stack, function):
    statements = role_statements(synth, stack, function)
    granted = {a for s in statements if s["Effect"] == "Allow" for a in _listify(s["Action"]) if a.startswith("eks:")}
    declared = eks_permissions(function)
    assert granted == declared["read"] | declared["write"]
    assert "eks:*" not in granted and not any("*" in a for a in granted)


@pytest.mark.parametrize(("stack", "function"), CASES)
def test_writes_never_on_a_star_resource(synth, stack, function):
    writes = eks_permissions(function)["write"]
    for statement in role_statements(synth, stack, function):
        actions = set(_listify(statement["Action"]))
        resources = _listify(statement["Resource"])
        if actions & writes:
            assert "*" not in resources, statement
            for resource in resources:
                assert resource.startswith("arn:aws:eks:"), resource
        if "*" in resources:
            # only calls without resource-level permissions: listing clusters, and X-Ray's
            # trace upload when deployment.tracing is on
            assert actions in ({"eks:ListClusters"}, {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}), statement


@pytest.mark.parametrize(("stack", "function"), CASES)
def test_iam_reads_only_where_declared(synth, stack, function):
    granted = {a for s in role_statements(synth, stack, function) for a in _listify(s["Action"]) if a.startswith("iam:")}
    assert granted == set(iam_permissions(function))


def test_home_functions_reach_every_region(synth):
    resources = {r for s in role_statements(synth, HOME_STACK, "sweep") for r in _listify(s["Resource"]) if isinstance(r, str)}
    assert "arn:aws:eks:eu-central-1:111122223333:access-entry/*" in resources
    assert "arn:aws:eks:eu-west-1:111122223333:cluster/*" in resources
    other = {r for s in role_statements(synth, OTHER_STACK, "access-entry") for r in _listify(s["Resource"]) if isinstance(r, str)}
    assert not any(":eu-west-1:" in r and r.startswith("arn:aws:eks") for r in other)


def test_security_hub_on_grants_exactly_batch_import_on_the_default_product(synth):
    from conftest import ACCOUNT, HOME, HOME_STACK, OTHER, OTHER_STACK

    checked = []
    home_functions = {"AccessEntry": [HOME], "IamPrincipal": [HOME, OTHER], "SweepWorker": [HOME, OTHER], "Sweep": [HOME, OTHER]}  # SweepWorker before Sweep: prefixes
    for stack, regions_by_function in ((HOME_STACK, home_functions), (OTHER_STACK, {"AccessEntry": [OTHER]})):
        for logical_id, policy in synth.resources(stack, "AWS::IAM::Policy").items():
            function = next((f for f in regions_by_function if logical_id.startswith(f)), None)
            if function is None:
                continue
            checked.append((stack, function))
            statements = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "SecurityHubImport"]
            assert statements == [{
                "Sid": "SecurityHubImport", "Effect": "Allow", "Action": "securityhub:BatchImportFindings",
                "Resource": [f"arn:aws:securityhub:{r}:{ACCOUNT}:product/{ACCOUNT}/default" for r in regions_by_function[function]]
                if len(regions_by_function[function]) > 1 else f"arn:aws:securityhub:{regions_by_function[function][0]}:{ACCOUNT}:product/{ACCOUNT}/default",
            }], (stack, logical_id)
    assert len(checked) == 5, checked


def test_security_hub_off_grants_nothing(default_synth):
    import json

    for stack in default_synth.stacks:
        assert "securityhub" not in json.dumps(stack.template)
