"""Hostile input never ends in a traceback: the parser, the rules engine, both Lambda entry
points, `eks-guardrail evaluate` and the rules loader meet mutated events and garbage.

Property: every input ends in a result or a clean, bounded error (`EventParseError`,
`ConfigError`, `SettingsError`, `EventFileError` reported on stderr, or a `rejected` result),
never another exception; every message is at most `BOUND` characters; one bad event never
stops the others.

Mutations start from every valid event we have: the public samples in `tests/events/` and a
builder record of each of the 13 calls we parse (`tests/cloudtrail_builder.py`). One to three
fields (at any depth, the EventBridge envelope included) are removed or replaced by a wrong
type, null, unicode, a 10,000-character string, an almost-valid value (a huge ARN, a time
without its zone, a region with a space, an 11-digit account) or nested garbage.

Examples per run (hypothesis, derandomized; counts are `max_examples`, the docstring of each
test repeats its own), 10,300 in all, about 35 s on 2 cores:

- 4,000 mutated events through `parse_event` and the engine;
- 1,000 garbage documents through `parse_event`;
- 1,500 mutated events through `AccessEntryApp.handle`, 1,000 through `IamPrincipalApp.handle`
  (apps built as `eks_guardrail.demo.world` does, on the emulator; idempotency on);
- 100 sequences of hostile events followed by a valid one through both apps;
- 600 `evaluate_files` batches (JSON arrays mixing good and bad events, plain or gzipped,
  CloudTrail `{"Records": [...]}` files);
- 400 `eks-guardrail evaluate` runs (`main`) on garbage bytes, truncated gzip and good files;
- 1,000 hostile org-rules structures (`org_rules_from_data`), 400 hostile org-rules files
  (`load_org_rules`: YAML dumps of hostile structures and raw bytes), 300 hostile handler
  environments (`HandlerSettings.from_environ`).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

import cloudtrail_builder as ct
from eks_guardrail.changes import EventParseError, Skipped, parse_event
from eks_guardrail.config import ConfigError, load_org_rules, org_rules_from_data
from eks_guardrail.demo.world import ACCOUNT, FakeLambdaContext
from eks_guardrail.engine import evaluate
from world_helpers import enforce_rules

EVENTS_DIR = Path(__file__).parent / "events"
#: No message of a rejection may be longer.
BOUND = 2_000
ORG = enforce_rules(exemptions={"principals": ["arn:aws:iam::*:role/BreakGlass"], "tag": {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}})
FAST = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


# --- the valid events mutations start from --------------------------------------------------


def _samples() -> list[dict[str, Any]]:
    """Every sample file, and a builder record of each call we parse (on the emulator's account
    and cluster `prod`, so that what survives the mutation reaches the real enforcement code)."""
    samples = [json.loads(p.read_text()) for p in sorted(EVENTS_DIR.glob("*.json"))]
    developer, platform = ct.role_arn("Developer", account=ACCOUNT), ct.role_arn("Platform", account=ACCOUNT)
    attacker = dict(account=ACCOUNT, identity=ct.assumed_role_identity("Developer", "bob", account=ACCOUNT))
    entry_arn = f"arn:aws:eks:{ct.REGION}:{ACCOUNT}:access-entry/prod/role/{ACCOUNT}/Developer/0ac7b2e1"
    records = [
        ct.create_access_entry(developer, groups=["web"], tags={"owner": "x"}, **attacker),
        ct.create_access_entry(ct.user_arn("mallory", account=ACCOUNT), username="mallory", **attacker),
        ct.update_access_entry(developer, username="dev:{{SessionName}}", groups=["system:masters"], **attacker),
        ct.delete_access_entry(platform, **attacker),
        ct.associate_access_policy(developer, "AmazonEKSClusterAdminPolicy", **attacker),
        ct.associate_access_policy(developer, "AmazonEKSEditPolicy", namespaces=["kube-system"], **attacker),
        ct.disassociate_access_policy(platform, "AmazonEKSClusterAdminPolicy", **attacker),
        ct.create_cluster("prod2", mode="CONFIG_MAP", **attacker),
        ct.update_cluster_config("prod", mode="CONFIG_MAP", **attacker),
        ct.tag_resource(entry_arn, {"guardrail": "exempt"}, **attacker),
        ct.untag_resource(ct.cluster_arn("prod", account=ACCOUNT), ["guardrail"], **attacker),
        ct.create_role("NewRole", **attacker),
        ct.delete_role("Developer", **attacker),
        ct.delete_user("mallory", **attacker),
    ]
    return samples + [ct.eventbridge(r) for r in records] + records[:2]


SAMPLES = _samples()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, prefix + (index,))
    return found


hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=("Cs",)), max_size=20),
    st.sampled_from(
        [
            "",
            "x" * 10_000,
            "é" * 10_000,
            f"arn:aws:iam::{ACCOUNT}:role/" + "a" * 10_000,
            f"arn:aws:iam::{ACCOUNT}:role/Developer\n",
            "arn:aws:sts::123456789012:assumed-role/Developer/bob",
            "arn%3Aaws%3Aiam%3A%3A12345678901%3Arole%2Fx",
            "2024-08-01T13:37:41",
            "2024-13-45T99:99:99Z",
            "9999-12-31T23:59:59-01:00",
            "eu west 1",
            "region-code",
            "12345678901",
            "١٢٣٤٥٦٧٨٩٠١٢",
            "AssumedRole",
            "namespace",
            "\x00\x1b[2J",
        ]
    ),
)
hostile = st.recursive(hostile_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


@st.composite
def mutated_events(draw, samples: list[dict[str, Any]] = SAMPLES) -> dict[str, Any]:
    """A valid event with one to three fields removed or replaced by something hostile."""
    event = copy.deepcopy(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["remove", "replace", "replace", "wrap"]))
        if how == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "wrap":  # the right value, the wrong shape
            parent[path[-1]] = draw(st.sampled_from([[parent[path[-1]]], {"value": parent[path[-1]]}, str(parent[path[-1]]) * 2]))
        else:
            parent[path[-1]] = draw(hostile)
    return event


def _judge(event: Any) -> str:
    """What the guardrail's pure path makes of one event: never anything but these."""
    try:
        outcome = parse_event(event)
    except EventParseError as error:
        assert len(str(error)) <= BOUND, "an unbounded error message"
        return "rejected"
    if isinstance(outcome, Skipped):
        assert len(outcome.reason) <= BOUND
        return "skipped"
    evaluate(outcome, ORG)
    note_event(f"parsed: {type(outcome).__name__}")
    return "evaluated"


# --- the parser and the engine --------------------------------------------------------------


@settings(max_examples=4_000, **FAST)
@given(mutated_events())
def test_mutated_events_are_parsed_or_rejected_cleanly(event):
    """4,000 mutated events: a typed change the engine judges, a `Skipped`, or a bounded
    `EventParseError`; a change's fields have exactly their declared types."""
    if _judge(event) == "evaluated":
        change = parse_event(event)
        meta = change.meta
        assert all(isinstance(v, str) for v in (meta.event_id, meta.event_time, meta.account, meta.region, meta.actor.arn, meta.actor.account_id))
        assert all(len(v) <= 2_048 for v in vars(change).values() if isinstance(v, str))


@settings(max_examples=1_000, **FAST)
@given(hostile)
def test_garbage_documents_are_rejected_cleanly(document):
    """1,000 garbage documents (anything JSON can hold)."""
    _judge(document)


# --- the Lambda entry points -----------------------------------------------------------------


@pytest.fixture(scope="module")
def apps():
    """The access-entry and IAM apps, as `eks_guardrail.demo.world` builds them, on one emulator
    account: cluster `prod` in API mode with a protected Platform admin entry."""
    from eks_guardrail.demo.world import CLUSTER_ADMIN, create_world
    from eks_guardrail.local import mock_aws
    from world_helpers import make_cluster

    with mock_aws():
        world = create_world()
        make_cluster(world, "prod")
        platform = world.role_arn("Platform")
        world.eks("platform").create_access_entry(clusterName="prod", principalArn=platform)
        world.eks("platform").associate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
        access_entry_app, iam_app = world.app(ORG), world.iam_app(ORG)
        world.deliver(access_entry_app)
        yield access_entry_app, iam_app


def _handled(app: Any, event: Any) -> dict[str, Any]:
    """One Lambda invocation: a result, never an exception; a rejection is bounded."""
    result = app.handle(copy.deepcopy(event), FakeLambdaContext())
    assert result["status"] in ("evaluated", "skipped", "rejected"), result
    note_event(f"{type(app).__name__}: {result['status']}")
    if result["status"] == "rejected":
        assert len(result["reason"]) <= BOUND and isinstance(result["event_id"], str)
    return result


def _fresh_id(event: Any, event_id: Any) -> Any:
    """The event with a fresh CloudTrail event id (where it has one), so that idempotency does
    not answer a survivor of the mutations from its cache: each one is really handled."""
    if isinstance(event, dict) and isinstance(event.get("detail"), dict) and isinstance(event["detail"].get("eventID"), str):
        event["detail"]["eventID"] = str(event_id)
    return event


def _check_app(app: Any, event: Any) -> None:
    verdict = _judge(event)
    result = _handled(app, event)
    if verdict == "rejected":
        assert result["status"] == "rejected"


@settings(max_examples=1_500, **FAST)
@given(mutated_events(), st.uuids())
def test_access_entry_app_rejects_hostile_events_cleanly(apps, event, event_id):
    """1,500 mutated events through `AccessEntryApp.handle`."""
    _check_app(apps[0], _fresh_id(event, event_id))


@settings(max_examples=1_000, **FAST)
@given(mutated_events(), st.uuids())
def test_iam_principal_app_rejects_hostile_events_cleanly(apps, event, event_id):
    """1,000 mutated events through `IamPrincipalApp.handle`."""
    _check_app(apps[1], _fresh_id(event, event_id))


@settings(max_examples=100, **FAST)
@given(st.lists(mutated_events() | hostile, min_size=1, max_size=4), st.uuids())
def test_the_apps_go_on_after_hostile_events(apps, bad_events, event_id):
    """100 sequences: hostile events, then a valid one with a fresh id, which is still handled."""
    access_entry_app, iam_app = apps
    for event in bad_events:
        for app in apps:
            _handled(app, event)
    good = ct.eventbridge(ct.update_cluster_config("prod", mode="API", account=ACCOUNT, event_id=str(event_id)))
    assert _handled(access_entry_app, good)["status"] == "evaluated"
    good_iam = ct.eventbridge(ct.delete_user("nobody", account=ACCOUNT, event_id=str(event_id)))
    assert _handled(iam_app, good_iam)["status"] == "evaluated"


# --- eks-guardrail evaluate --------------------------------------------------------------------


@settings(max_examples=600, **FAST)
@given(
    st.lists(st.one_of(mutated_events(), st.sampled_from(SAMPLES), hostile), min_size=1, max_size=5),
    st.sampled_from(["array", "gzip", "records"]),
)
def test_evaluate_reports_bad_events_and_goes_on(tmp_path_factory, batch, form):
    """600 batches mixing good and bad events, as a JSON array, gzipped, or a CloudTrail log file."""
    from eks_guardrail.cli.evaluate import evaluate_files

    text = json.dumps({"Records": batch} if form == "records" else batch, default=str)
    path = tmp_path_factory.mktemp("ev") / "batch.json"
    path.write_bytes(gzip.compress(text.encode()) if form == "gzip" else text.encode())
    errors = io.StringIO()
    results, had_error = evaluate_files([str(path)], ORG, errors=errors)
    expected = [_judge_shown(e) for e in json.loads(text)["Records" if form == "records" else slice(None)]]
    assert [r["source"] for r in results] == [f"{path}[{i}]" for i, v in enumerate(expected) if v not in ("rejected", "quiet")], "one bad event stopped the others"
    assert had_error == ("rejected" in expected)
    lines = errors.getvalue().splitlines()
    assert len(lines) == expected.count("rejected")
    assert all(len(line) <= BOUND and f"{path}[" in line for line in lines)


def _judge_shown(event: Any) -> str:
    """As `_judge`, with the calls `evaluate` counts without printing (not watched, other services) as "quiet"."""
    from eks_guardrail.changes import PARSERS

    verdict = _judge(event)
    record = event.get("detail", event) if isinstance(event, dict) else {}
    record = record if isinstance(record, dict) else {}
    if verdict == "skipped" and (record.get("eventSource"), record.get("eventName")) not in PARSERS:
        return "quiet"
    return verdict


_GOOD = json.dumps(SAMPLES[:3]).encode()


@settings(max_examples=400, **FAST)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b),
        st.integers(1, 200).map(lambda n: gzip.compress(_GOOD)[:n]),
        st.just(gzip.compress(_GOOD)),
        st.text(max_size=200).map(str.encode),
        st.sampled_from([b"[" * 5_000, b"1" * 5_000, b'{"Records": 3}', b"\xef\xbb\xbf[]", gzip.compress(b"\xff\xfe")]),
    )
)
def test_evaluate_command_never_tracebacks(tmp_path_factory, capsys, content):
    """400 runs of `eks-guardrail evaluate` on garbage bytes, (truncated) gzip, BOMs, deep nesting."""
    from eks_guardrail.cli import main

    path = tmp_path_factory.mktemp("cli") / "events.json.gz"
    path.write_bytes(content)
    code = main(["evaluate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2)
    assert all(isinstance(json.loads(line), dict) for line in out.splitlines())
    assert all(len(line) <= BOUND for line in err.splitlines())


# --- the rules loader and the handlers' environment ---------------------------------------------

hostile_config = st.dictionaries(
    st.sampled_from(["mode", "trusted_accounts", "exemptions", "rules", "deployment", "other"]),
    hostile
    | st.dictionaries(
        st.sampled_from(["admin-policy", "principals", "tag", "reserved-prefix", "action", "prefixes", "set_by", "policies", "accounts", "regions"]),
        hostile | st.dictionaries(st.sampled_from(["action", "allow", "key", "value", "severity", "set_by"]), hostile, max_size=3),
        max_size=3,
    ),
    max_size=4,
)


def _assert_clean_config_error(error: ConfigError) -> None:
    assert error.problems and len(error.problems) <= 51
    assert all(len(line) <= BOUND for line in str(error).splitlines())


@settings(max_examples=1_000, **FAST)
@given(hostile_config)
def test_hostile_org_rules_are_rejected_with_their_path(data):
    """1,000 hostile org-rules structures."""
    try:
        org_rules_from_data(data)
    except ConfigError as error:
        _assert_clean_config_error(error)


@settings(max_examples=400, **FAST)
@given(hostile_config.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode()) | st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_hostile_org_rules_files_are_rejected(tmp_path_factory, content):
    """400 hostile org-rules files: YAML of hostile structures, raw bytes, text."""
    path = tmp_path_factory.mktemp("cfg") / "rules.yaml"
    path.write_bytes(content)
    try:
        load_org_rules(path)
    except ConfigError as error:
        _assert_clean_config_error(error)


@settings(max_examples=300, **FAST)
@given(hostile_config.map(json.dumps) | st.text(max_size=100))
def test_hostile_handler_environment_is_a_settings_error(config):
    """300 hostile `GUARDRAIL_CONFIG` values."""
    from eks_guardrail.handlers.settings import HandlerSettings, SettingsError

    try:
        HandlerSettings.from_environ({"LEDGER_TABLE": "t", "GUARDRAIL_CONFIG": config})
    except SettingsError as error:
        assert all(len(line) <= BOUND for line in str(error).splitlines())


# --- found by the fuzzing outside the event edge (config.py, handlers/settings.py), now fixed ------

_LOADER_DEFECT = (
    "config.py load_org_rules / parse_yaml and schema.py: a YAML integer of more than 4,300 digits "
    "raises ValueError, deep nesting raises RecursionError, instead of ConfigError: the CLI and "
    "`cdk synth` end in a traceback"
)
_SETTINGS_DEFECT = (
    "handlers/settings.py _org_rules catches only JSONDecodeError: a number of more than 4,300 digits "
    "(ValueError) or deep nesting (RecursionError) in GUARDRAIL_CONFIG escapes instead of SettingsError"
)


@pytest.mark.parametrize("text", ["mode: " + "1" * 5_000, "[" * 5_000, "- " * 3_000], ids=["huge-int", "deep-flow", "deep-block"])
def test_known_defect_org_rules_file_beyond_pythons_limits(tmp_path, text):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_org_rules(path)


@pytest.mark.parametrize("config", ["1" * 5_000, "[" * 5_000], ids=["huge-int", "deep"])
def test_known_defect_handler_config_beyond_pythons_limits(config):
    from eks_guardrail.handlers.settings import HandlerSettings, SettingsError

    with pytest.raises(SettingsError):
        HandlerSettings.from_environ({"LEDGER_TABLE": "t", "GUARDRAIL_CONFIG": config})
