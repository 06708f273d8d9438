"""The two ways of using the emulator: ``mock_aws()`` in-process and the local endpoint
(including the AWS CLI against it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from urllib.parse import quote

import boto3
import pytest
from moto.eks import urls as eks_urls
from moto.eks.responses import EKSResponse

from eks_guardrail.local import mock_aws, recorded_events
from eks_guardrail.local.server import BANNER, LocalAWSServer, run_server

from .conftest import ACCOUNT, TRUST_POLICY


def test_mock_leaves_moto_as_it_was(local_endpoint: LocalAWSServer) -> None:
    """mock_aws() installs the emulator on enter and removes it on exit; the running endpoint
    keeps its own reference."""
    paths_before = dict(eks_urls.url_paths)
    with mock_aws():
        assert "create_access_entry" in EKSResponse.__dict__
    assert dict(eks_urls.url_paths) == paths_before  # the endpoint still has it installed
    assert "create_access_entry" in EKSResponse.__dict__


PLAIN_MOTO_SCRIPT = """
import boto3, moto
from moto.eks import urls
from moto.eks.responses import EKSResponse
from moto.iam.responses import IamResponse
from moto.events.utils import EventTemplateParser
from moto.events.models import Rule
from eks_guardrail.local import mock_aws
paths = dict(urls.url_paths)
template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
with mock_aws():
    assert boto3.client("eks", region_name="eu-west-1").list_access_policies()["accessPolicies"]
assert dict(urls.url_paths) == paths
assert "create_access_entry" not in EKSResponse.__dict__ and "call_action" not in EKSResponse.__dict__
assert "call_action" not in IamResponse.__dict__
assert EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE == template
assert "send_to_targets" in Rule.__dict__ and Rule.send_to_targets.__module__ == "moto.events.models"
with moto.mock_aws():
    try:
        boto3.client("eks", region_name="eu-west-1").list_access_policies()
    except Exception:
        pass
    else:
        raise SystemExit("plain moto answered an access-entry call")
print("ok")
"""


def test_plain_moto_unaffected_after_exit() -> None:
    """After mock_aws() exits, moto is as it was: plain moto.mock_aws knows no access entries
    (checked in a fresh interpreter, as this session's endpoint keeps the emulator installed)."""
    import sys

    out = subprocess.run([sys.executable, "-c", PLAIN_MOTO_SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@mock_aws
def test_decorator_form() -> None:
    """mock_aws works as a bare decorator, like moto's."""
    eks = boto3.client("eks", region_name="eu-west-1")
    assert len(eks.list_access_policies()["accessPolicies"]) == 34


def test_class_decorator_form() -> None:
    """mock_aws decorates a test class like moto's: each test method runs in a fresh mock."""

    @mock_aws
    class Suite:
        def test_one(self) -> int:
            eks = boto3.client("eks", region_name="eu-west-1")
            eks.create_cluster(name="c", roleArn=f"arn:aws:iam::{ACCOUNT}:role/r", resourcesVpcConfig={},
                               accessConfig={"authenticationMode": "API"})
            return len(eks.list_access_entries(clusterName="c")["accessEntries"])

        def test_two(self) -> list[str]:
            return boto3.client("eks", region_name="eu-west-1").list_clusters()["clusters"]

    suite = Suite()
    assert suite.test_one() == 1
    assert suite.test_two() == []


def test_state_is_reset_between_mocks() -> None:
    """Emulator state (entries, recorded events) resets with moto's backends."""
    with mock_aws():
        boto3.client("eks", region_name="eu-west-1").list_access_policies()
        assert recorded_events(region="eu-west-1")
    with mock_aws():
        assert recorded_events() == []


def test_run_server_prints_and_stops_on_ctrl_c(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """run_server prints where it listens and returns 0 on Ctrl-C."""
    from werkzeug import serving

    class FakeServer:
        server_address = ("127.0.0.1", 5999)

        def serve_forever(self) -> None:
            raise KeyboardInterrupt

        def server_close(self) -> None:
            pass

    monkeypatch.setattr(serving, "make_server", lambda *a, **k: FakeServer())
    assert run_server("127.0.0.1", 5999) == 0
    assert BANNER.format(host="127.0.0.1", port=5999) in capsys.readouterr().out


def test_run_server_serves_http(tmp_path: object) -> None:
    """run_server really listens: start it in a child process on a free port and call it."""
    import socket
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from eks_guardrail.local.server import run_server; raise SystemExit(run_server('127.0.0.1', {port}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == BANNER.format(host="127.0.0.1", port=port)
        eks = boto3.client("eks", region_name="eu-west-1", endpoint_url=f"http://127.0.0.1:{port}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        for _ in range(50):
            try:
                assert eks.list_access_policies(maxResults=1)["accessPolicies"]
                break
            except Exception:
                time.sleep(0.1)
        proc.send_signal(__import__("signal").SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(shutil.which("aws") is None, reason="AWS CLI not installed")
def test_aws_cli_against_endpoint(local_endpoint: LocalAWSServer) -> None:
    """The AWS CLI works against the endpoint, role ARNs with paths included."""
    from eks_guardrail.local.server import reset

    reset()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="eu-west-1", AWS_ENDPOINT_URL=local_endpoint.url)
    env.pop("AWS_PROFILE", None)

    def cli(*args: str) -> dict:
        out = subprocess.run(["aws", "--endpoint-url", local_endpoint.url, "--output", "json", *args],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    role = cli("iam", "create-role", "--role-name", "ops", "--path", "/team/ops/",
               "--assume-role-policy-document", TRUST_POLICY)["Role"]
    cli("eks", "create-cluster", "--name", "demo", "--role-arn", role["Arn"],
        "--resources-vpc-config", "subnetIds=subnet-1", "--access-config", "authenticationMode=API")
    cli("eks", "create-access-entry", "--cluster-name", "demo", "--principal-arn", role["Arn"])
    entry = cli("eks", "describe-access-entry", "--cluster-name", "demo", "--principal-arn", role["Arn"])["accessEntry"]
    assert entry["principalArn"] == role["Arn"]
    cli("eks", "associate-access-policy", "--cluster-name", "demo", "--principal-arn", role["Arn"],
        "--policy-arn", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "--access-scope", "type=cluster")
    listed = cli("eks", "list-access-entries", "--cluster-name", "demo")["accessEntries"]
    assert listed == [f"arn:aws:iam::{ACCOUNT}:root", role["Arn"]]
    cli("eks", "delete-access-entry", "--cluster-name", "demo", "--principal-arn", role["Arn"])
    params = [e["detail"]["requestParameters"] for e in recorded_events() if e["detail"]["eventName"] == "DeleteAccessEntry"]
    assert params[-1]["principalArn"] == quote(role["Arn"], safe="")
    reset()
