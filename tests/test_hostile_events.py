"""One regression test per hostile-input defect found by mutating valid events.

Each test fails on the code before the fix (an uncaught exception in the parser, a Lambda
entry point or the CLI, or an unbounded message) and pins the clean outcome: the parser
raises `EventParseError` naming the field; the Lambda apps return
`{"event_id", "status": "rejected", "reason"}`, log it at error level and count
`RejectedEvents`; `evaluate` reports the bad event and goes on.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
from typing import Any

import pytest

import cloudtrail_builder as ct
from eks_guardrail.changes import EventParseError, parse_event
from eks_guardrail.demo.world import ACCOUNT

BOUND = 2_000
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/Developer"


class CountingMetrics:
    """What `Reporter.count` needs of Powertools' Metrics: the names counted."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.names.append(name)


def _assumed(role: str = "Developer") -> dict[str, Any]:
    return ct.assumed_role_identity(role, "bob", account=ACCOUNT)


def access_event(**changes: Any) -> dict[str, Any]:
    """A valid `AssociateAccessPolicy` of cluster admin to a developer, on the world's cluster."""
    record = ct.associate_access_policy(DEVELOPER, "AmazonEKSClusterAdminPolicy", account=ACCOUNT, identity=_assumed())
    return ct.eventbridge({**record, **changes})


def create_event() -> dict[str, Any]:
    return ct.eventbridge(ct.create_access_entry(DEVELOPER, account=ACCOUNT, identity=_assumed()))


def iam_event() -> dict[str, Any]:
    return ct.eventbridge(ct.create_role("NewRole", account=ACCOUNT, identity=_assumed()))


@pytest.fixture(scope="module")
def shared_world():
    """One emulator account for the module (as `conftest.world`): cluster `prod`, Platform admin."""
    from eks_guardrail.demo.world import CLUSTER_ADMIN, create_world
    from eks_guardrail.local import mock_aws
    from world_helpers import make_cluster

    with mock_aws():
        world = create_world()
        make_cluster(world, "prod")
        platform = world.role_arn("Platform")
        world.eks("platform").create_access_entry(clusterName="prod", principalArn=platform)
        world.eks("platform").associate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
        yield world


@pytest.fixture
def apps(shared_world):
    """Both Lambda apps (idempotency on, as deployed), with counted metrics."""
    from eks_guardrail.clients import ClientFactory
    from eks_guardrail.handlers.access_entry_app import AccessEntryApp
    from eks_guardrail.handlers.iam_principal_app import IamPrincipalApp
    from world_helpers import enforce_rules

    metrics = CountingMetrics()
    settings = shared_world.settings(enforce_rules())
    clients = ClientFactory(shared_world.guardrail)
    return metrics, AccessEntryApp(settings, clients, metrics=metrics), IamPrincipalApp(settings, clients, metrics=metrics)


def assert_rejected(result: dict[str, Any], field: str, event: dict[str, Any]) -> None:
    assert result["status"] == "rejected", result
    assert field in result["reason"] and len(result["reason"]) <= BOUND
    assert result["event_id"] == (event.get("detail", {}).get("eventID") or "")


def assert_parse_error(event: Any, field: str) -> EventParseError:
    with pytest.raises(EventParseError) as raised:
        parse_event(event)
    assert raised.value.field_path == field, raised.value
    assert len(str(raised.value)) <= BOUND
    return raised.value


# --- userIdentity -------------------------------------------------------------------------


def test_session_issuer_as_a_string_is_rejected_by_both_apps(apps, caplog):
    metrics, access_app, iam_app = apps
    for event, app in ((access_event(), access_app), (iam_event(), iam_app)):
        event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"] = "Role"
        assert_parse_error(event, "detail.userIdentity.sessionContext.sessionIssuer")
        with caplog.at_level(logging.ERROR):
            result = app.handle(copy.deepcopy(event))
        assert_rejected(result, "sessionIssuer", event)
    assert metrics.names.count("RejectedEvents") == 2
    assert [r.levelno for r in caplog.records if "rejected" in r.getMessage()] == [logging.ERROR] * 2


def test_session_issuer_arn_as_a_number_is_rejected(apps):
    _, access_app, _ = apps
    event = access_event()
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = 1234
    assert_parse_error(event, "detail.userIdentity.sessionContext.sessionIssuer.arn")
    assert_rejected(access_app.handle(event), "sessionIssuer.arn", event)


@pytest.mark.parametrize(
    "field, value",
    [("type", ["AssumedRole"]), ("arn", {"arn": "x"}), ("accountId", 123456789012), ("accountId", "me"), ("invokedBy", 7), ("sessionContext", "s")],
)
def test_any_user_identity_field_of_the_wrong_type_is_rejected(apps, field, value):
    _, access_app, _ = apps
    event = access_event()
    event["detail"]["userIdentity"][field] = value
    assert_parse_error(event, f"detail.userIdentity.{field}")
    assert_rejected(access_app.handle(event), f"userIdentity.{field}", event)


# --- responseElements -----------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("type", ["STANDARD"]), ("username", 5), ("accessEntryArn", {"a": 1})])
def test_access_entry_response_fields_of_the_wrong_type_are_rejected(apps, field, value):
    _, access_app, _ = apps
    event = create_event()
    event["detail"]["requestParameters"].pop("type", None)
    event["detail"]["responseElements"]["accessEntry"][field] = value
    assert_parse_error(event, f"detail.responseElements.accessEntry.{field}")
    assert_rejected(access_app.handle(event), field, event)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r["responseElements"].update(role="NewRole"), "detail.responseElements.role"),
        (lambda r: r["responseElements"]["role"].update(arn=["arn:aws:iam::1:role/x"]), "detail.responseElements.role.arn"),
        (lambda r: r["responseElements"]["role"].update(path=7), "detail.responseElements.role.path"),
        (lambda r: r["responseElements"]["role"].update(roleId={"id": 1}), "detail.responseElements.role.roleId"),
        (lambda r: r["requestParameters"].update(roleName=["NewRole"]), "detail.requestParameters.roleName"),
    ],
)
def test_iam_response_fields_of_the_wrong_type_are_rejected(apps, mutate, field):
    _, _, iam_app = apps
    event = iam_event()
    mutate(event["detail"])
    assert_parse_error(event, field)
    assert_rejected(iam_app.handle(event), field.removeprefix("detail."), event)


# --- time, region, ids, accounts ------------------------------------------------------------


@pytest.mark.parametrize("value", ["yesterday", "2024-08-01T13:37:41", "2024-13-45T99:99:99Z", "0001-01-01T00:00:00+01:00", 1722519461])
def test_event_time_must_be_iso_8601_with_its_zone(apps, value):
    _, access_app, _ = apps
    event = access_event(eventTime=value)
    assert_parse_error(event, "detail.eventTime")
    assert_rejected(access_app.handle(event), "eventTime", event)


def test_a_parsed_time_is_utc_and_comparable():
    from datetime import datetime, timezone

    from eks_guardrail.enforcement.rollbacks.base import changed_since

    change = parse_event(access_event(eventTime="2024-08-01T15:37:41.250+02:00"))
    assert change.meta.event_time == "2024-08-01T13:37:41Z"
    assert changed_since(datetime(2024, 8, 1, 13, 40, tzinfo=timezone.utc), change.meta.event_time)


@pytest.mark.parametrize("value", ["eu west 1", "EU-WEST-1!", "-eu-west-1", "x" * 64])
def test_a_malformed_region_is_rejected_before_any_client_is_made(apps, value):
    _, access_app, _ = apps
    event = access_event(awsRegion=value)
    assert_parse_error(event, "detail.awsRegion")
    assert_rejected(access_app.handle(event), "awsRegion", event)


def test_a_placeholder_region_parses_but_is_not_acted_on(apps):
    """`evaluate` judges the AWS docs' sample (`region-code`); the Lambda apps need a real region."""
    _, access_app, _ = apps
    event = access_event(awsRegion="region-code")
    assert parse_event(event).meta.region == "region-code"
    assert_rejected(access_app.handle(event), "awsRegion", event)


def test_no_event_id_and_no_id_is_rejected_not_an_idempotency_error(apps):
    _, access_app, iam_app = apps
    for app, event in ((access_app, access_event()), (iam_app, iam_event())):
        del event["detail"]["eventID"]
        del event["id"]
        result = app.handle(event)
        assert result == {"event_id": "", "status": "rejected", "reason": result["reason"]}
        assert "eventID" in result["reason"]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda e: e["detail"].update(recipientAccountId="12345"), "detail.recipientAccountId"),
        (lambda e: e["detail"].update(recipientAccountId=ACCOUNT + "0"), "detail.recipientAccountId"),
        (lambda e: (e["detail"].pop("recipientAccountId"), e.update(account=123456789012)), "account"),
        (lambda e: e["detail"]["userIdentity"].update(accountId="12345678901x"), "detail.userIdentity.accountId"),
    ],
)
def test_account_ids_must_be_12_digits(apps, mutate, field):
    _, access_app, _ = apps
    event = access_event()
    mutate(event)
    assert_parse_error(event, field)
    assert_rejected(access_app.handle(event), field.removeprefix("detail."), event)


# --- principals and huge strings ------------------------------------------------------------


@pytest.mark.parametrize("value", [123, None, ["arn:aws:iam::111122223333:role/x"], {"arn": "x"}, "arn:aws:sts::111122223333:assumed-role/x/y", "Developer"])
def test_principal_arns_that_are_not_iam_arn_strings_are_rejected(apps, value):
    _, access_app, _ = apps
    event = access_event()
    event["detail"]["requestParameters"]["principalArn"] = value
    assert_parse_error(event, "detail.requestParameters.principalArn")
    assert_rejected(access_app.handle(event), "principalArn", event)


@pytest.mark.parametrize(
    "path",
    [
        ("requestParameters", "principalArn"),
        ("requestParameters", "name"),
        ("requestParameters", "accessScope", "namespaces"),
        ("userIdentity", "arn"),
        ("eventID",),
    ],
)
def test_huge_strings_are_rejected_with_a_bounded_message(apps, path):
    _, access_app, _ = apps
    event = access_event()
    huge = f"arn:aws:iam::{ACCOUNT}:role/" + "a" * 10_000
    parent = event["detail"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = [huge] if path[-1] == "namespaces" else huge
    if path[-1] == "namespaces":
        parent["type"] = "namespace"
    error = assert_parse_error(event, "detail." + ".".join(path) + ("[0]" if path[-1] == "namespaces" else ""))
    assert len(str(error)) <= 400 and "characters)" in str(error)
    result = access_app.handle(event)
    assert result["status"] == "rejected" and len(result["reason"]) <= 400


def test_an_echoed_value_is_cut_to_about_80_characters_with_its_length():
    event = access_event()
    event["detail"]["requestParameters"]["accessScope"]["type"] = "x" * 5_000
    error = assert_parse_error(event, "detail.requestParameters.accessScope.type")
    assert "x" * 81 not in str(error) and "… (5000 characters)" in str(error)
    event["detail"]["requestParameters"]["kubernetesGroups"] = None
    event["detail"]["requestParameters"]["accessScope"] = {"type": "namespace", "namespaces": "n" * 5_000}
    error = assert_parse_error(event, "detail.requestParameters.accessScope.namespaces")
    assert len(str(error)) <= 300 and "(5000 characters)" in str(error)


# --- alert channels ---------------------------------------------------------------------------


def test_a_slack_secret_with_a_non_string_url_is_a_channel_failure_after_the_rollback(shared_world):
    from world_helpers import enforce_rules

    world = shared_world
    posted: list[str] = []
    world.platform.client("secretsmanager").create_secret(Name="eks-guardrail/slack", SecretString=json.dumps({"webhook_url": 123}))
    app = world.app(enforce_rules(), slack_post=lambda url, body: posted.append(url), slack_secret_name="eks-guardrail/slack")
    world.deliver(app)  # the setup's events: the ledger learns the protected entry
    world.alerts()
    world.platform.client("iam").create_user(UserName="mallory")
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{ACCOUNT}:user/mallory")
    (result,) = world.deliver(app)
    assert [(o["rule"], o["status"]) for o in result["outcomes"]] == [("prefer-roles", "rolled-back")]
    assert result["alert_failures"] == ["slack"] and posted == []
    assert f"arn:aws:iam::{ACCOUNT}:user/mallory" not in world.entries("prod")
    assert [a["attributes"]["rule"] for a in world.alerts()] == ["prefer-roles"]  # SNS still got it


# --- the CLI ----------------------------------------------------------------------------------


def _evaluate(capsys, *paths: str) -> tuple[int, list[dict[str, Any]], str]:
    from eks_guardrail.cli import main

    code = main(["evaluate", *paths])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_evaluate_reads_gzip_by_content_whatever_the_name(tmp_path, capsys):
    events = [ct.create_access_entry(ct.user_arn("mallory")), ct.delete_role("old")]
    trail = tmp_path / "111122223333_CloudTrail_eu-west-1_20261128T1000Z_x.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))
    renamed = tmp_path / "events.json"
    renamed.write_bytes(gzip.compress(json.dumps(events[0]).encode()))
    code, results, err = _evaluate(capsys, str(trail), str(renamed))
    assert code == 1 and err == ""
    assert [r["source"] for r in results] == [f"{trail}[0]", f"{trail}[1]", str(renamed)]
    assert results[0]["findings"][0]["rule"] == "prefer-roles"


def test_evaluate_one_bad_event_does_not_end_the_batch(tmp_path, capsys):
    good = ct.create_access_entry(ct.user_arn("mallory"))
    bad = ct.associate_access_policy(ct.role_arn("Dev"), "AmazonEKSClusterAdminPolicy", identity=ct.assumed_role_identity())
    bad["userIdentity"]["sessionContext"]["sessionIssuer"] = "Role"
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([good, bad, ct.delete_role("old")]))
    code, results, err = _evaluate(capsys, str(path))
    assert code == 2
    assert [r["source"] for r in results] == [f"{path}[0]", f"{path}[2]"]
    assert f"{path}[1]: userIdentity.sessionContext.sessionIssuer: expected an object" in err
    assert "Traceback" not in err


def test_evaluate_error_lines_are_bounded(tmp_path, capsys):
    bad = ct.create_access_entry(ct.role_arn("Dev"))
    bad["requestParameters"]["kubernetesGroups"] = "g" * 5_000
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([bad, ct.delete_role("old")]))
    code, results, err = _evaluate(capsys, str(path))
    assert code == 2 and len(results) == 1
    (line,) = err.splitlines()
    assert len(line) <= 400 and "(5000 characters)" in line
