"""Hostile input never ends in a traceback: the parser, `evaluate`, the rules engine, the
rules loader and the Lambda entry points meet mutated and garbage events.

Every generated input ends in a result or a clean, bounded error (`EventParseError`,
`ConfigError`, a `rejected` result), and one bad event never stops the others. Examples per
run (hypothesis, derandomized): 6,000 single-field mutations of valid events through the
parser and engine, 2,000 garbage documents, 1,500 hostile org-rules files, 400 hostile
`evaluate` batches and 300 mutated events through the access-entry and IAM Lambda apps:
10,200 in all.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cloudtrail_builder as ct
from eks_guardrail.changes import EventParseError, Skipped, parse_event
from eks_guardrail.config import ConfigError, load_org_rules, org_rules_from_data
from eks_guardrail.engine import evaluate

from world_helpers import enforce_rules

EVENTS_DIR = Path(__file__).parent / "events"
BOUND = 2_000
ORG = enforce_rules(exemptions={"principals": ["arn:aws:iam::*:role/BreakGlass"]})
FAST = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


def _samples() -> list[dict[str, Any]]:
    samples = [json.loads(p.read_text()) for p in sorted(EVENTS_DIR.glob("*.json"))]
    samples += [
        ct.eventbridge(ct.create_access_entry(ct.role_arn("Dev"), groups=["web"], tags={"owner": "x"})),
        ct.eventbridge(ct.update_access_entry(ct.role_arn("Dev"), username="dev:{{SessionName}}", groups=["a"])),
        ct.eventbridge(ct.delete_access_entry(ct.role_arn("Dev"))),
        ct.eventbridge(ct.associate_access_policy(ct.role_arn("Dev"), "AmazonEKSClusterAdminPolicy", identity=ct.assumed_role_identity("Developer", "x"))),
        ct.eventbridge(ct.disassociate_access_policy(ct.role_arn("Dev"), "AmazonEKSClusterAdminPolicy")),
        ct.eventbridge(ct.update_cluster_config("prod", mode="API")),
        ct.delete_role("gone"),
    ]
    return [s for s in samples if isinstance(s, dict)]


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
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), max_size=20),
    st.just("x" * 10_000),
    st.just("arn:aws:iam::123456789012:role/" + "a" * 5_000),
    st.just("2024-13-45T99:99:99"),
    st.just("not-a-region!"),
)
hostile = st.recursive(hostile_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


@st.composite
def mutated_events(draw) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    paths = _paths(event)
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            try:
                parent[path[-1]] = draw(hostile)
            except (IndexError, KeyError, TypeError):
                pass
        paths = _paths(event) or [("detail",)]
    return event


def _judge(event: Any) -> str:
    """What the guardrail's pure path makes of one event: never anything but these."""
    try:
        outcome = parse_event(event)
    except EventParseError as error:
        assert len(str(error)) <= BOUND, "an unbounded error message"
        return "rejected"
    if isinstance(outcome, Skipped):
        return "skipped"
    evaluate(outcome, ORG)
    return "evaluated"


@settings(max_examples=6_000, **FAST)
@given(mutated_events())
def test_mutated_events_are_parsed_or_rejected_cleanly(event):
    _judge(event)


@settings(max_examples=2_000, **FAST)
@given(hostile)
def test_garbage_documents_are_rejected_cleanly(document):
    _judge(document)


hostile_config = st.dictionaries(
    st.sampled_from(["mode", "trusted_accounts", "exemptions", "rules", "deployment", "other"]),
    hostile | st.dictionaries(st.sampled_from(["admin-policy", "principals", "tag", "reserved-prefix", "action", "prefixes", "set_by"]), hostile, max_size=3),
    max_size=4,
)


@settings(max_examples=1_000, **FAST)
@given(hostile_config)
def test_hostile_org_rules_are_rejected_with_their_path(data):
    try:
        org_rules_from_data(data)
    except ConfigError as error:
        assert error.problems and len(str(error)) <= 20 * BOUND


@settings(max_examples=500, **FAST)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_hostile_org_rules_files_are_rejected(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("cfg") / "rules.yaml"
    path.write_bytes(content)
    try:
        load_org_rules(path)
    except ConfigError:
        pass


@settings(max_examples=400, **FAST)
@given(st.lists(st.one_of(mutated_events(), st.sampled_from(SAMPLES)), min_size=1, max_size=4))
def test_evaluate_reports_bad_events_and_goes_on(tmp_path_factory, batch):
    import io

    from eks_guardrail.cli.evaluate import evaluate_files

    path = tmp_path_factory.mktemp("ev") / "batch.json"
    path.write_text(json.dumps(batch, default=str))
    errors = io.StringIO()
    results, had_error = evaluate_files([str(path)], ORG, errors=errors)
    expected = [_judge(e) for e in json.loads(path.read_text())]
    assert len(results) == sum(1 for v in expected if v != "rejected"), "one bad event stopped the others"
    assert had_error == ("rejected" in expected)
    assert all(len(line) <= BOUND for line in errors.getvalue().splitlines())


def test_evaluate_reads_gzip_by_content_and_never_tracebacks(tmp_path, capsys):
    import gzip

    from eks_guardrail.cli import main

    good = tmp_path / "trail.json.gz"
    good.write_bytes(gzip.compress(json.dumps(SAMPLES[:2]).encode()))
    renamed = tmp_path / "events.json"
    renamed.write_bytes(gzip.compress(json.dumps(SAMPLES[0]).encode()))
    garbage = tmp_path / "broken.json.gz"
    garbage.write_bytes(b"\x1f\x8b\x08garbage")
    code = main(["evaluate", str(good), str(renamed), str(garbage)])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    assert len(out.strip().splitlines()) == 3
    assert "broken.json.gz" in err


@pytest.fixture(scope="module")
def apps():
    from eks_guardrail.demo.world import create_world
    from eks_guardrail.local import mock_aws

    with mock_aws():
        world = create_world()
        yield world.app(ORG), world.iam_app(ORG)


@settings(max_examples=300, **FAST)
@given(mutated_events())
def test_lambda_apps_reject_hostile_events_cleanly(apps, event):
    access_entry_app, iam_app = apps
    verdict = _judge(event)
    for app in (access_entry_app, iam_app):
        try:
            result = app.handle(copy.deepcopy(event))
        except Exception as error:  # noqa: BLE001 - only AWS's own answers may escape (Lambda retries them)
            from botocore.exceptions import BotoCoreError, ClientError

            assert isinstance(error, (ClientError, BotoCoreError)), f"{type(error).__name__}: {error}"[:300]
            continue
        if verdict == "rejected":
            assert result["status"] == "rejected" and len(result["reason"]) <= BOUND
        if result["status"] == "rejected":
            assert len(result["reason"]) <= BOUND
