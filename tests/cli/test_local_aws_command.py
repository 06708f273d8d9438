"""`eks-guardrail local-aws` as a user runs it: prints where it listens, serves, stops cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import boto3
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serves_and_stops_cleanly(stop):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "eks_guardrail", "local-aws", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = proc.stdout.readline()
        assert banner.strip() == f"eks-guardrail local AWS listening on http://127.0.0.1:{port} (Ctrl-C to stop)"
        eks = boto3.client("eks", region_name="eu-west-1", endpoint_url=f"http://127.0.0.1:{port}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        eks.create_cluster(name="c", roleArn="arn:aws:iam::123456789012:role/x", resourcesVpcConfig={"subnetIds": ["s"]},
                           accessConfig={"authenticationMode": "API"})
        assert eks.list_access_entries(clusterName="c")["accessEntries"] == ["arn:aws:iam::123456789012:root"]
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "eks-guardrail local AWS stopped" in err
    assert "Traceback" not in err
