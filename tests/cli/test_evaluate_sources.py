"""`eks-guardrail evaluate` on every form CloudTrail records come in: trail files, Event history, JSON lines,
directories and S3 prefixes; other services counted quietly; a bad file reported by name while the rest go on."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

import cloudtrail_builder as ct
from eks_guardrail.cli import main
from eks_guardrail.event_files import CHUNK, read_event_file

S3_READ = {
    "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
    "eventTime": "2026-11-01T00:00:00Z", "eventID": "s3-read", "readOnly": True,
    "userIdentity": ct.iam_user_identity(), "requestParameters": {"bucketName": "logs", "key": "x"},
}


def _eks_read() -> dict:
    return ct.cloudtrail_record("eks", "ListAccessEntries", {"clusterName": "prod"})


def _violation(name: str = "mallory") -> dict:
    return ct.create_access_entry(ct.user_arn(name))  # prefer-roles: an IAM user


def _trail_file(records: list[dict]) -> bytes:
    """As CloudTrail writes it to S3: one line, `{"Records": [...]}`."""
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


def _event_history(records: list[dict]) -> dict:
    """`aws cloudtrail lookup-events` output: each record as JSON text in CloudTrailEvent."""
    return {
        "Events": [
            {"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false", "EventTime": r["eventTime"],
             "EventSource": r["eventSource"], "Username": "alice", "Resources": [], "CloudTrailEvent": json.dumps(r)}
            for r in records
        ],
        "NextToken": "abc",
    }


def _run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_a_gzipped_trail_file_mostly_of_other_services(tmp_path, capsys):
    records = [S3_READ] * 50 + [_violation()] + [_eks_read()] * 3 + [S3_READ] * 50
    path = tmp_path / "111122223333_CloudTrail_eu-west-1_20261101T0000Z_abc.json.gz"
    path.write_bytes(gzip.compress(_trail_file(records)))
    code, results, err = _run(capsys, str(path))
    assert code == 1
    assert [(r["source"], r["event_name"]) for r in results] == [(f"{path}[50]", "CreateAccessEntry")]
    assert results[0]["findings"][0]["rule"] == "prefer-roles"
    assert err == (
        "eks-guardrail: 1 event(s), 1 finding(s), from 104 record(s) in 1 file(s); "
        "103 skipped quietly (100 of other services, 3 EKS/IAM calls the guardrail does not watch)\n"
    )


def test_forms_are_told_by_content_not_by_name(tmp_path, capsys):
    record = _violation()
    forms = {
        "trail.txt": _trail_file([record]),
        "pretty-trail.log": json.dumps({"Records": [record]}, indent=2).encode(),
        "history.gz.json": json.dumps(_event_history([record])).encode(),
        "history.bin": gzip.compress(json.dumps(_event_history([record]), indent=1).encode()),
        "lines.json": (json.dumps(S3_READ) + "\n" + json.dumps(record) + "\n\n").encode(),
        "array": json.dumps([record]).encode(),
        "single.json.gz": gzip.compress(json.dumps(ct.eventbridge(record), indent=2).encode()),
        "bom.json": b"\xef\xbb\xbf" + _trail_file([record]),
    }
    for name, content in forms.items():
        (tmp_path / name).write_bytes(content)
        code, results, err = _run(capsys, str(tmp_path / name))
        assert code == 1, (name, err)
        assert [r["event_id"] for r in results] == [record["eventID"]], name
        assert results[0]["findings"][0]["rule"] == "prefer-roles", name
    code, results, _ = _run(capsys, str(tmp_path / "lines.json"))
    assert results[0]["source"] == f"{tmp_path / 'lines.json'}:2"  # JSON lines: file:line


def test_a_directory_tree_as_synced_from_s3_one_file_corrupt_and_digests_left_out(tmp_path, capsys):
    base = tmp_path / "AWSLogs" / "111122223333"
    day = base / "CloudTrail" / "eu-west-1" / "2026" / "11" / "01"
    day.mkdir(parents=True)
    (day / "a.json.gz").write_bytes(gzip.compress(_trail_file([S3_READ, _violation("a")])))
    (day / "b.json.gz").write_bytes(gzip.compress(_trail_file([_violation("b")]))[:40])  # truncated download
    (day / "c.json.gz").write_bytes(gzip.compress(_trail_file([_violation("c"), S3_READ])))
    digest = base / "CloudTrail-Digest" / "eu-west-1" / "2026" / "11" / "01"
    digest.mkdir(parents=True)
    (digest / "d.json.gz").write_bytes(gzip.compress(b'{"awsAccountId": "111122223333", "digestStartTime": "x"}'))
    code, results, err = _run(capsys, str(tmp_path / "AWSLogs"))
    assert code == 2  # bad input, reported; the other files were judged
    assert [r["findings"][0]["principal_arn"] for r in results] == [ct.user_arn("a"), ct.user_arn("c")]
    assert f"eks-guardrail: {day / 'b.json.gz'}: not a readable gzip file" in err
    assert "Traceback" not in err and "CloudTrail-Digest" not in err
    assert "from 4 record(s) in 3 file(s)" in err and "1 bad file(s)" in err


def test_a_corrupt_record_stops_only_its_file_and_earlier_records_count(tmp_path, capsys):
    good = _violation("early")
    broken = tmp_path / "broken.json"
    broken.write_bytes(_trail_file([good])[:-2] + b',{"eventName": ]}')
    other = tmp_path / "other.json"
    other.write_bytes(_trail_file([_violation("later")]))
    code, results, err = _run(capsys, str(broken), str(other))
    assert code == 2
    assert [r["source"] for r in results] == [f"{broken}[0]", f"{other}[0]"]
    assert f"eks-guardrail: {broken}: not valid JSON in record 1" in err


def test_event_history_items_without_a_record_are_bad_records_not_bad_files(tmp_path, capsys):
    page = _event_history([_violation()])
    page["Events"].insert(0, {"EventId": "x"})
    page["Events"].insert(1, {"EventId": "y", "CloudTrailEvent": "{not json"})
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    code, results, err = _run(capsys, str(path))
    assert code == 2 and [r["source"] for r in results] == [f"{path}[2]"]
    assert f"{path}[0]: CloudTrailEvent: missing" in err and f"{path}[1]: CloudTrailEvent: not valid JSON" in err


def test_records_spanning_chunks_and_big_values_are_read_exactly(tmp_path):
    """Records cross the reader's chunk boundaries; numbers json.loads accepts (huge ints, NaN) are kept as it reads them."""
    records = [dict(_violation(f"u{i}"), padding="x" * (CHUNK // 3 + i)) for i in range(7)]
    records.append(dict(S3_READ, big=2**200, nan=float("nan"), deep=[[[[1]]]]))
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"Records": records}))
    loaded = [e.event for e in read_event_file(str(path))]
    assert [r.get("eventID") for r in loaded] == [r.get("eventID") for r in records]
    assert loaded[-1]["big"] == 2**200 and loaded[-1]["nan"] != loaded[-1]["nan"]
    assert loaded[3]["padding"] == records[3]["padding"]


def test_an_s3_prefix_is_listed_page_by_page_and_each_object_streamed(capsys):
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="org-trail")
        prefix = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/01/"
        for i in range(1005):  # more than one ListObjectsV2 page (1,000 keys)
            records = [_violation(f"user{i}")] if i % 500 == 0 else [S3_READ]
            s3.put_object(Bucket="org-trail", Key=f"{prefix}f{i:04d}.json.gz", Body=gzip.compress(_trail_file(records)))
        s3.put_object(Bucket="org-trail", Key="AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/d.json.gz", Body=b"{}")
        s3.put_object(Bucket="org-trail", Key="elsewhere/x.json", Body=_trail_file([_violation("outside")]))
        code, results, err = _run(capsys, "s3://org-trail/AWSLogs/")
    assert code == 1
    assert [r["source"] for r in results] == [f"s3://org-trail/{prefix}f{i:04d}.json.gz[0]" for i in (0, 500, 1000)]
    assert "from 1,005 record(s) in 1,005 file(s); 1,002 skipped quietly" in err


def test_an_unreachable_bucket_is_reported_without_a_traceback(capsys):
    moto = pytest.importorskip("moto")

    with moto.mock_aws():
        code, results, err = _run(capsys, "s3://no-such-bucket/AWSLogs/")
    assert code == 2 and results == []
    assert "eks-guardrail: s3://no-such-bucket/AWSLogs/: cannot list:" in err and "NoSuchBucket" in err
    assert "Traceback" not in err


def test_table_output_ends_with_the_summary(tmp_path, capsys):
    path = tmp_path / "trail.json"
    path.write_bytes(_trail_file([S3_READ, _violation()]))
    code = main(["evaluate", "--format", "table", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.rstrip().endswith(
        "1 event(s), 1 finding(s), from 2 record(s) in 1 file(s); 1 skipped quietly "
        "(1 of other services, 0 EKS/IAM calls the guardrail does not watch)"
    )


def test_progress_is_drawn_on_a_terminal_and_cleared(tmp_path):
    import io

    from eks_guardrail.cli.evaluate import Progress, judge_locations
    from eks_guardrail.cli._judging import Tally
    from eks_guardrail.config import OrgRules

    path = tmp_path / "trail.json"
    path.write_bytes(_trail_file([S3_READ] * 2500 + [_violation()]))
    screen = io.StringIO()
    progress = Progress(screen, force=True)
    tally = Tally()
    results = list(judge_locations([str(path)], OrgRules(), tally, errors=sys.stderr, progress=progress))
    progress.clear()
    assert len(results) == 1 and tally.records == 2501
    assert "\revaluate: 1 file(s), 1,000 record(s)" in screen.getvalue() and screen.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    Progress(quiet)(tally, "x")  # not a terminal: nothing
    assert quiet.getvalue() == ""


def test_padding_between_records_is_not_held(tmp_path):
    """Megabytes of space between records are skipped chunk by chunk, not accumulated."""
    violation = _violation()
    path = tmp_path / "padded.json"
    path.write_bytes(
        b'{"Records": [' + b" " * (3 * CHUNK) + json.dumps(violation).encode() + b"," + b"\n" * (2 * CHUNK) + json.dumps(S3_READ).encode() + b"]}"
    )
    assert [e.event["eventID"] for e in read_event_file(str(path))] == [violation["eventID"], "s3-read"]
