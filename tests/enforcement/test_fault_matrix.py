"""Fault matrix at the boto3 layer: AWS (and Slack) failing under the real access-entry handler.

Faults go into the guardrail's OWN boto3 clients (`app.clients.client(...)`, the cached
`ClientFactory` the handler uses; never the attacker's or the platform's) through botocore's
event system: a `before-send.<service>.<Operation>` hook, registered first, answers with a real
`AWSResponse` (status, error code in the service's protocol), so botocore's own parser and
retry handler see it as a real throttle or 5xx. Backoff delays are computed (recorded) but not
slept. Each cell runs on its own cluster (`fmN`) of one emulator account per module.

What the injection had to get right (found out here):
- A `before-call` hook that raises (or answers) is ABOVE botocore's retry loop: never retried,
  so one throttle is already a `failed` rollback (`test_a_fault_raised_before_call_bypasses_
  botocore_retries`). Real throttles and 5xx reach the retry handler: hence `before-send`.
- `before-send` handlers are ALL called (the first answer wins), the emulator's included: a
  faulted attempt is pointed away from the emulator, or the "rejected" write would be made
  anyway. Left as is, that models a 5xx whose write WAS made (`applied=True`, group 2b).
- `Config(retries={"mode": "standard", "max_attempts": 6})` means 6 RETRIES, 7 attempts
  (botocore adds the first one, `args.py::_compute_retry_max_attempts`); the error then says
  "reached max retries: 6". README's "6 attempts" is one short.

Matrix (cell = one parametrised case) and what each cell proves:

1. EKS (`test_eks_fault`): every operation the handler calls, each in a scenario that makes
   the handler call it (`EKS_ROWS`; the cell asserts the op was hit): DescribeAccessEntry,
   ListAssociatedAccessPolicies, ListAccessEntries (lockout read), DescribeCluster (tag exemption
   configured), CreateAccessEntry, AssociateAccessPolicy, UpdateAccessEntry, DeleteAccessEntry,
   DisassociateAccessPolicy, UntagResource, and DescribeAccessEntry with a tag exemption
   configured (11 rows) x ThrottlingException 429, TooManyRequestsException 429, ServerException
   500, ServiceUnavailableException 503 x duration:
   - once: botocore retries it (one fault, one backoff, the retry goes through) and the outcome
     is as if nothing failed: `rolled-back`, alerted, `Rollbacks` counted, no
     `RollbackFailures`, nothing pending, the state fixed.
   - persistent (all 7 attempts): the handler raises the ClientError (Lambda retries, the DLQ
     keeps the event); the outcome is alerted `failed` (SNS); `RollbackFailures{rule}` counted;
     the decision is pending in DynamoDB (`failed`); the state still shows the violation, or the
     half-done restore (entry recreated, policy not associated) reported `failed`. With the
     fault gone it is completed, alerted `rolled-back`, the pending record cleared, by: the
     redelivered event (ThrottlingException), the next event of the cluster
     (TooManyRequestsException, ServiceUnavailableException) or the sweep (ServerException).
   The persistent cells of three rows found defects, now fixed: DescribeCluster and
   DescribeAccessEntry with a tag exemption (OBSERVED_STATE_DEFECT), UntagResource (UNTAG_DEFECT).
2. Half-done and ambiguous writes:
   a. a protected entry replaced by an EC2_LINUX node entry; the guardrail deletes the node
      entry, CreateAccessEntry fails: the principal has NO entry, reported `failed`, pending,
      raised, completed by the next event. CreateCluster with creator admin
      (`bootstrap-admin`), DescribeCluster failing once (absorbed) / persistently (`failed`,
      alerted, counted, raised, deferred; the sweep removes the creator's entry).
   b. (`test_eks_write_carried_out_but_its_answer_lost`) a 500 after the write was made, for
      each EKS write: Associate/Update are idempotent (`rolled-back`); the retried Delete /
      Disassociate find nothing (reported `already-undone`, state right); the retried Create
      gets ResourceInUseException: `failed`, pending, raised, and Lambda's retry completes it.
3. DynamoDB (`test_dynamodb_fault`), targets by table and key: ledger entry read / write /
   delete, the pending-decisions item read / write / clear, idempotency start (PutItem) / save
   (UpdateItem) / delete, exemption-tag grant write / revoke; x ProvisionedThroughputExceeded
   400 and InternalServerError 500 persistently (and InternalServerError once for five targets:
   absorbed). Persistent: the invocation fails (Lambda retries, DLQ), and nothing is half-done
   silently: nothing was done yet, or what was done was alerted before the failure, or the
   pending record still says `failed` (re-examined, not lost); Lambda's retry (or the sweep,
   when the idempotency record is stuck INPROGRESS) completes it. Grant write / revoke found
   defects, now fixed (GRANT_DEFECT, REVOKE_DEFECT).
4. SNS Publish failing (Throttling and InternalError persistent, NotFound 404, InternalError
   once): Slack still gets the alert, the rollback still happens, `AlertFailures{channel=sns}`
   counted (not when absorbed). Both channels down: rollback done, both counted. EKS and SNS
   failing together: Slack gets the `failed` alert, both failures counted, pending kept.
5. Slack: a `slack_post` raising OSError, TimeoutError, HTTPError 400 / 500; the real
   `post_json` (timeout 0.3 s) against a local webhook answering 400, 404, 429, 500, 503, too
   slow, refusing connections (and 200, the control), a malformed status line, a truncated
   body: SNS still gets the alert, the rollback still happens, `AlertFailures{channel=slack}`
   counted, neither webhook URL nor secret logged. The last two found a defect, now fixed
   (SLACK_DEFECT).
6. Secrets Manager (the Slack secret missing, `{"webhook_url": 123}`, not a URL, throttled
   persistently, 5xx persistently, DecryptionFailure; throttled once): SNS still gets the alert,
   the rollback still happens, `AlertFailures{channel=slack}` counted (once: Slack gets it).
"""

from __future__ import annotations

import functools
import http.client
import http.server
import itertools
import json
import logging
import socket
import threading
import time
import urllib.error
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from eks_guardrail.adapters.ledger import DeferredCreatorRemovals, DynamoDbLedger, PendingDecisions
from eks_guardrail.alerts.channels import post_json
from eks_guardrail.clients import ClientFactory
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN, TRUST_POLICY, FakeLambdaContext, LocalWorld
from eks_guardrail.handlers.access_entry_app import AccessEntryApp
from eks_guardrail.handlers.sweep_app import SweepApp

from world_helpers import enforce_rules, make_cluster

#: `max_attempts: 6` in `clients.HANDLER_RETRIES` = 6 retries after the first attempt.
ATTEMPTS = 7
ALWAYS = 10**9
TAG = {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/Platform"]}
ADMIN = "AmazonEKSClusterAdminPolicy@cluster"
SECRET_TOKEN = "T000/B000/s3cr3t-webhook-token"


# --- fault injection ----------------------------------------------------------------------------


def error_response(client: Any, request: Any, code: str, status: int) -> AWSResponse:
    """An error answer as the service's protocol sends it (botocore parses it as a real one)."""
    protocol = client.meta.service_model.protocol
    if protocol == "rest-json":
        headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/", "Content-Type": "application/json"}
        body = json.dumps({"message": f"injected {code}"})
    elif protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        body = json.dumps({"__type": f"com.amazonaws.fault#{code}", "message": f"injected {code}"})
    elif protocol == "query":
        headers = {"Content-Type": "text/xml"}
        body = (
            f"<ErrorResponse><Error><Type>{'Sender' if status < 500 else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>injected {code}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
    else:  # pragma: no cover - no other protocol among the guardrail's clients
        raise AssertionError(protocol)
    response = AWSResponse(request.url, status, headers, None)
    response._content = body.encode()
    return response


@dataclass
class Faults:
    """`before-send` faults on clients; counts every attempt seen and every fault injected."""

    seen: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    _hooks: list = field(default_factory=list)

    def inject(
        self,
        client: Any,
        operation: str,
        code: str,
        status: int,
        *,
        times: int = ALWAYS,
        when: Callable[[dict], bool] | None = None,
        label: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer `times` attempts with the error. `applied`: the request is carried out all the
        same and only its answer is the error (a 5xx after the write was made: the answer lost)."""
        label = label or operation
        left = {"n": times}

        def hook(request: Any, **kwargs: Any) -> AWSResponse | None:
            if when is not None and not when(json.loads(request.body or b"{}")):
                return None
            self.seen[label] += 1
            if left["n"] <= 0:
                return None
            left["n"] -= 1
            self.injected[label] += 1
            answer = error_response(client, request, code, status)
            if not applied:
                # `before-send` handlers are ALL called (the first answer wins): point this attempt
                # away from the emulator, so that a rejected request is not carried out anyway.
                request.url = "https://fault-injected.invalid/"
            return answer

        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        client.meta.events.register_first(event, hook)
        self._hooks.append((client, event, hook))

    def clear(self) -> None:
        for client, event, hook in self._hooks:
            client.meta.events.unregister(event, hook)
        self._hooks.clear()


class Metrics:
    """What `Reporter` needs of Powertools `Metrics`: records every `add_metric`."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.names.append(name)


# --- one emulator account for the module, one cluster per cell ---------------------------------


class Webhook(http.server.BaseHTTPRequestHandler):
    """A local Slack webhook whose path says how it misbehaves."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.path.strip("/").split("/")[0]
        try:
            if kind == "slow":
                time.sleep(1.0)
                self.send_response(200)
                self.end_headers()
            elif kind == "garbage":
                self.wfile.write(b"garbage\r\n\r\n")
            elif kind == "truncated":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok")
            else:
                self.send_response(int(kind) if kind.isdigit() else 200)
                self.send_header("Content-Length", "15")
                self.end_headers()
                self.wfile.write(b"invalid_payload")
        except OSError:
            pass
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Account:
    world: LocalWorld
    webhook: str
    closed_port: int
    delays: list[float]
    names: Any = field(default_factory=lambda: itertools.count(1))


@pytest.fixture(scope="module")
def account():
    from eks_guardrail.demo.world import create_world
    from eks_guardrail.local import mock_aws

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    delays: list[float] = []
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def no_sleep(self: Any, context: Any) -> float:
        delays.append(original(self, context))
        return 0

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", no_sleep)
        world = create_world()
        iam = world.platform.client("iam")
        iam.create_user(UserName="mallory")
        iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=TRUST_POLICY)
        world.platform.client("secretsmanager").create_secret(Name="slack", SecretString=json.dumps({"webhook_url": f"https://hooks.slack.test/{SECRET_TOKEN}"}))
        yield Account(world, f"http://127.0.0.1:{server.server_address[1]}", closed_port, delays)
    server.shutdown()
    server.server_close()


PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/Platform"
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/Developer"
READER = f"arn:aws:iam::{ACCOUNT}:role/Reader"
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"


@dataclass
class Cell:
    account: Account
    cluster: str
    org: Any
    app: AccessEntryApp
    metrics: Metrics
    counts: list[tuple[str, dict[str, str]]]
    posted: list[tuple[str, dict[str, Any]]]
    faults: Faults = field(default_factory=Faults)
    clusters: list[str] = field(default_factory=list)

    @property
    def world(self) -> LocalWorld:
        return self.account.world

    # the guardrail's own clients (the ones faults go into)
    def eks_client(self) -> Any:
        return self.app.clients.client("eks", self.world.region)

    def ddb_client(self) -> Any:
        return self.app.clients.client("dynamodb")

    # delivery
    def event(self) -> dict[str, Any]:
        (event,) = [e for e in self.world.pending_events() if not _by_guardrail(self.world, e)]
        return event

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self.app.handle(event, context or FakeLambdaContext())

    def deliver(self) -> list[dict[str, Any]]:
        return [self.handle(e) for e in self.world.pending_events()]

    def sweep(self) -> dict[str, Any]:
        return SweepApp(self.world.settings(self.org), ClientFactory(self.world.guardrail), account=ACCOUNT, metrics=Metrics()).handle()

    # what the platform team sees
    def alerts(self) -> list[tuple[str, str]]:
        return [(a["attributes"]["rule"], a["attributes"]["action"]) for a in self.sns()]

    def sns(self) -> list[dict[str, Any]]:
        # tag events' findings name no cluster (`-`): earlier cells' alerts are drained at setup
        return [a for a in self.world.alerts() if a["attributes"].get("cluster") in (*self.clusters, "-")]

    def entries(self, cluster: str | None = None) -> dict[str, list[str]]:
        return self.world.entries(cluster or self.cluster)

    def pending(self) -> dict[str, dict[str, Any]]:
        return PendingDecisions(self.world.platform.client("dynamodb"), self.world.ledger_table).of_cluster(ACCOUNT, self.world.region, self.cluster)

    def ledger(self, principal: str) -> Any:
        return DynamoDbLedger(self.world.platform.client("dynamodb"), self.world.ledger_table).get(ACCOUNT, self.world.region, self.cluster, principal)

    def counted(self, name: str) -> list[dict[str, str]]:
        return [dims for n, dims in self.counts if n == name]


def _by_guardrail(world: LocalWorld, event: dict[str, Any]) -> bool:
    issuer = event["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
    return issuer == world.guardrail_role_arn


@pytest.fixture
def cells(account):
    """`cells(org, **app options)` -> a new cluster `fmN` with the protected Platform admin entry,
    and the handler (enforce) having seen its setup (the ledger knows it). Torn down after."""
    made: list[Cell] = []

    def make(org: Any = None, *, slack: str | None = None, slack_post: Callable | None = None, idempotency: bool = True) -> Cell:
        world = account.world
        org = org or enforce_rules()
        world.pending_events()
        world.alerts()
        name = f"fm{next(account.names)}"
        make_cluster(world, name)
        eks = world.eks("platform")
        eks.create_access_entry(clusterName=name, principalArn=PLATFORM, tags={"owner": "platform"})
        eks.associate_access_policy(clusterName=name, principalArn=PLATFORM, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
        posted: list[tuple[str, dict[str, Any]]] = []
        metrics = Metrics()
        settings = world.settings(org, idempotency=idempotency, slack_secret_name=slack)
        app = AccessEntryApp(settings, ClientFactory(world.guardrail), metrics=metrics, slack_post=slack_post or (lambda url, body: posted.append((url, body))))
        counts: list[tuple[str, dict[str, str]]] = []
        count = app.reporter.count

        def spy(metric: str, **dimensions: str) -> None:
            counts.append((metric, dimensions))
            count(metric, **dimensions)

        app.reporter.count = spy  # type: ignore[method-assign]
        cell = Cell(account, name, org, app, metrics, counts, posted, clusters=[name])
        made.append(cell)
        cell.deliver()
        world.alerts()
        counts.clear()
        metrics.names.clear()
        posted.clear()
        account.delays.clear()
        return cell

    yield make
    for cell in made:
        cell.faults.clear()
        for cluster in cell.clusters:
            account.world.eks("platform").delete_cluster(name=cluster)


# --- scenarios: a bad change (or a compliant one) that makes the handler call what is faulted ----


@dataclass(frozen=True)
class Scenario:
    rule: str
    principal: str
    org: Callable[[], Any]
    prepare: Callable[[Cell], None]
    attack: Callable[[Cell], None]
    fixed: Callable[[Cell], bool]


def _nothing(cell: Cell) -> None:
    pass


def _developer_entry(cell: Cell, **kwargs: Any) -> None:
    cell.world.eks("platform").create_access_entry(clusterName=cell.cluster, principalArn=DEVELOPER, **kwargs)


def _grant_admin(cell: Cell) -> None:
    cell.world.eks("attacker").associate_access_policy(clusterName=cell.cluster, principalArn=DEVELOPER, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})


def _tag_developer(cell: Cell) -> None:
    eks = cell.world.eks("attacker")
    arn = eks.describe_access_entry(clusterName=cell.cluster, principalArn=DEVELOPER)["accessEntry"]["accessEntryArn"]
    eks.tag_resource(resourceArn=arn, tags={"guardrail": "exempt"})


def _untagged(cell: Cell) -> bool:
    arn = cell.world.eks().describe_access_entry(clusterName=cell.cluster, principalArn=DEVELOPER)["accessEntry"]["accessEntryArn"]
    return "guardrail" not in cell.world.eks().list_tags_for_resource(resourceArn=arn)["tags"]


SCENARIOS = {
    # the protected admin entry deleted: recreated with its policy
    "protected-deleted": Scenario(
        "protected-entry", PLATFORM, enforce_rules, _nothing,
        lambda c: c.world.eks("attacker").delete_access_entry(clusterName=c.cluster, principalArn=PLATFORM),
        lambda c: c.entries().get(PLATFORM) == [ADMIN],
    ),
    # a developer role granted cluster admin: disassociated (after the lockout read)
    "admin-grant": Scenario(
        "admin-policy", DEVELOPER, enforce_rules, _developer_entry, _grant_admin, lambda c: c.entries()[DEVELOPER] == [],
    ),
    # the same with a tag exemption configured (the handler then reads cluster and entry tags)
    "admin-grant-tagged": Scenario(
        "admin-policy", DEVELOPER, lambda: enforce_rules(exemptions={"tag": TAG}), _developer_entry, _grant_admin, lambda c: c.entries()[DEVELOPER] == [],
    ),
    # a reserved group given to a developer: the ledger's groups restored
    "reserved-prefix": Scenario(
        "reserved-prefix", DEVELOPER, enforce_rules, lambda c: _developer_entry(c, kubernetesGroups=["web-devs"]),
        lambda c: c.world.eks("attacker").update_access_entry(clusterName=c.cluster, principalArn=DEVELOPER, kubernetesGroups=["platform:admins"]),
        lambda c: c.entries()[DEVELOPER] == ["group:web-devs"],
    ),
    # an entry for an IAM user: deleted
    "iam-user": Scenario(
        "prefer-roles", MALLORY, enforce_rules, _nothing,
        lambda c: c.world.eks("attacker").create_access_entry(clusterName=c.cluster, principalArn=MALLORY),
        lambda c: MALLORY not in c.entries(),
    ),
    # the exemption tag set by someone not allowed: removed
    "attacker-tag": Scenario(
        "exemption-tag", DEVELOPER, lambda: enforce_rules(exemptions={"tag": TAG}, rules={"exemption-tag": {"action": "rollback"}}),
        _developer_entry, _tag_developer, _untagged,
    ),
}

EKS_CODES = {"ThrottlingException": 429, "TooManyRequestsException": 429, "ServerException": 500, "ServiceUnavailableException": 503}
#: How a persistently failed decision is completed once the fault is gone, per code.
RECOVERY = {"ThrottlingException": "redelivery", "TooManyRequestsException": "next-event", "ServerException": "sweep", "ServiceUnavailableException": "next-event"}

OBSERVED_STATE_DEFECT = (
    "enforcement/enforcer.py Enforcer.handle calls self._observed_state() (DescribeCluster, DescribeAccessEntry "
    "without associations, the exemption-grant GetItem, or the ledger GetItem for a delete; only when exemptions.tag "
    "is configured) outside the "
    "try/except that turns ClientError into a `failed` remedy: a persistent fault there escapes Enforcer.handle, so "
    "the handler raises with NO `failed` alert, NO RollbackFailures metric and NO pending decision (the next event of "
    "the cluster does not retry it; only a Lambda retry or the sweep can)"
)
UNTAG_DEFECT = (
    "enforcement/enforcer.py Enforcer._exemption_tags catches the ClientError of a failed UntagResource and returns a "
    "`failed` remedy but never sets report.error, and tag remedies are never written to PendingDecisions: the "
    "handler returns normally (no Lambda retry, no DLQ) and the decision is not kept pending (no later event or sweep "
    "removes the attacker's exemption tag); the tag stays on the entry, alerted once as `failed`"
)

EKS_ROWS = [
    ("DescribeAccessEntry", "protected-deleted", None),
    ("DescribeAccessEntry", "admin-grant-tagged", None),
    ("ListAssociatedAccessPolicies", "admin-grant", None),
    ("ListAccessEntries", "admin-grant", None),
    ("DescribeCluster", "admin-grant-tagged", None),
    ("CreateAccessEntry", "protected-deleted", None),
    ("AssociateAccessPolicy", "protected-deleted", None),
    ("UpdateAccessEntry", "reserved-prefix", None),
    ("DeleteAccessEntry", "iam-user", None),
    ("DisassociateAccessPolicy", "admin-grant", None),
    ("UntagResource", "attacker-tag", None),
]


def _eks_cells():
    for op, scenario, defect in EKS_ROWS:
        for code in EKS_CODES:
            yield pytest.param(op, scenario, code, "once", id=f"{op}-{scenario}-{code}-once")
            marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=defect)] if defect else []
            yield pytest.param(op, scenario, code, "persistent", id=f"{op}-{scenario}-{code}-persistent", marks=marks)


def _outcomes(*results: dict[str, Any]) -> list[tuple[str, str]]:
    return [(o["rule"], o["status"]) for r in results if r.get("status") == "evaluated" for o in r["outcomes"]]


def _description(alert: dict[str, Any]) -> str:
    return json.loads(alert["message"])["content"]["description"]


def _raised(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the caller asserts what it must be
        return error
    return None


def _recover(cell: Cell, how: str, event: dict[str, Any]) -> list[tuple[str, str]]:
    """Complete a pending decision the way `how` says; return the outcomes (rule, status)."""
    if how == "redelivery":
        return _outcomes(cell.handle(event))
    if how == "next-event":
        cell.world.eks("platform").create_access_entry(clusterName=cell.cluster, principalArn=READER, kubernetesGroups=["readers"])
        return _outcomes(*cell.deliver())
    assert how == "sweep"
    return [(a["rule"], a["status"]) for a in cell.sweep()["acted"]]


# --- 1. EKS -------------------------------------------------------------------------------------


@pytest.mark.parametrize("op, scenario_name, code, duration", list(_eks_cells()))
def test_eks_fault(cells, account, op, scenario_name, code, duration):
    scenario = SCENARIOS[scenario_name]
    cell = cells(scenario.org())
    scenario.prepare(cell)
    cell.deliver()
    cell.sns()
    scenario.attack(cell)
    event = cell.event()
    cell.faults.inject(cell.eks_client(), op, code, EKS_CODES[code], times=1 if duration == "once" else ALWAYS)

    if duration == "once":
        result = cell.handle(event)
        assert cell.faults.injected[op] == 1 and cell.faults.seen[op] >= 2, "one fault, then botocore's retry went through"
        assert len(account.delays) >= 1, "botocore's retry handler computed a backoff"
        assert (scenario.rule, "rolled-back") in _outcomes(result)
        assert not any(status == "failed" for _, status in _outcomes(result))
        assert result["alert_failures"] == []
        assert (scenario.rule, "rolled-back") in cell.alerts()
        assert "Rollbacks" in cell.metrics.names and "RollbackFailures" not in cell.metrics.names
        assert cell.pending() == {}
        assert scenario.fixed(cell)
        return

    error = _raised(lambda: cell.handle(event))
    assert isinstance(error, ClientError), f"the handler must raise the ClientError (Lambda retries, then the DLQ): {error!r}"
    assert error.response["Error"]["Code"] == code
    assert "reached max retries: 6" in str(error) and cell.faults.injected[op] == ATTEMPTS, "7 attempts, then given up"
    alerts = cell.sns()
    assert [(a["attributes"]["rule"], a["attributes"]["action"]) for a in alerts] == [(scenario.rule, "failed")], "the failure is alerted"
    assert "failed after retries" in _description(alerts[0]) and code in _description(alerts[0])
    assert cell.counted("RollbackFailures") == [{"rule": scenario.rule}]
    assert "RollbackFailures" in cell.metrics.names
    assert cell.pending()[scenario.principal]["status"] == "failed", "the decision is kept pending"
    assert not scenario.fixed(cell)
    if op == "AssociateAccessPolicy":
        assert cell.entries()[PLATFORM] == [], "half-done: the entry is back, its policy not: reported failed, not done"

    cell.faults.clear()
    how = RECOVERY[code]
    completed = _recover(cell, how, event)

    assert (scenario.rule, "rolled-back") in completed, f"completed by the {how}"
    assert scenario.fixed(cell)
    assert cell.pending() == {}
    assert (scenario.rule, "rolled-back") in cell.alerts()


def test_a_fault_raised_before_call_bypasses_botocore_retries(cells, account):
    """Why the matrix injects at `before-send`: a `before-call` hook is above the retry loop."""
    cell = cells()
    _developer_entry(cell)
    cell.deliver()
    _grant_admin(cell)
    event = cell.event()
    calls = Counter()

    def throttle_once(**kwargs: Any) -> None:
        calls["DisassociateAccessPolicy"] += 1
        if calls["DisassociateAccessPolicy"] == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "DisassociateAccessPolicy")

    eks = cell.eks_client()
    eks.meta.events.register("before-call.eks.DisassociateAccessPolicy", throttle_once)
    try:
        error = _raised(lambda: cell.handle(event))
    finally:
        eks.meta.events.unregister("before-call.eks.DisassociateAccessPolicy", throttle_once)

    assert isinstance(error, ClientError) and calls["DisassociateAccessPolicy"] == 1 and account.delays == []  # never retried
    assert cell.alerts() == [("admin-policy", "failed")]


LOST_ANSWER = {
    # operation: (scenario, first invocation's outcome status, raised)
    "CreateAccessEntry": ("protected-deleted", "failed", True),  # the retried create: ResourceInUseException
    "AssociateAccessPolicy": ("protected-deleted", "rolled-back", False),  # idempotent
    "UpdateAccessEntry": ("reserved-prefix", "rolled-back", False),  # idempotent
    "DeleteAccessEntry": ("iam-user", "already-undone", False),  # the retried delete: not found
    "DisassociateAccessPolicy": ("admin-grant", "already-undone", False),  # the retried disassociate: not found
}


@pytest.mark.parametrize("op", list(LOST_ANSWER))
def test_eks_write_carried_out_but_its_answer_lost(cells, op):
    """A 500 after the write was made (AWS gives no guarantee it was not): botocore retries a
    write that already happened. Never a wrong state, never silent: done, or `failed`, alerted,
    pending and raised, then completed by Lambda's retry."""
    scenario_name, status, raises = LOST_ANSWER[op]
    scenario = SCENARIOS[scenario_name]
    cell = cells(scenario.org())
    scenario.prepare(cell)
    cell.deliver()
    cell.sns()
    scenario.attack(cell)
    event = cell.event()
    cell.faults.inject(cell.eks_client(), op, "ServerException", 500, times=1, applied=True)

    error = _raised(lambda: cell.handle(event))

    assert cell.faults.injected[op] == 1 and cell.faults.seen[op] == 2
    assert cell.alerts() == [(scenario.rule, status)]
    if not raises:
        assert error is None and scenario.fixed(cell) and cell.pending() == {}
        return
    assert isinstance(error, ClientError) and error.response["Error"]["Code"] == "ResourceInUseException"
    assert cell.entries()[PLATFORM] == [], "half-done: created (by the lost attempt), policy not associated: reported failed"
    assert cell.pending()[PLATFORM]["status"] == "failed" and cell.counted("RollbackFailures")
    assert (scenario.rule, "rolled-back") in _outcomes(cell.handle(event))  # Lambda's retry
    assert scenario.fixed(cell) and cell.pending() == {}


# --- 2. half-done restores ------------------------------------------------------------------------


def test_node_entry_removed_but_protected_entry_not_created_is_reported_and_completed(cells):
    cell = cells()
    eks = cell.world.eks("attacker")
    eks.delete_access_entry(clusterName=cell.cluster, principalArn=PLATFORM)
    eks.create_access_entry(clusterName=cell.cluster, principalArn=PLATFORM, type="EC2_LINUX")
    deleted, created = [e for e in cell.world.pending_events() if not _by_guardrail(cell.world, e)]
    cell.faults.inject(cell.eks_client(), "CreateAccessEntry", "ServiceUnavailableException", 503)

    error = _raised(lambda: cell.handle(deleted))

    assert isinstance(error, ClientError)
    assert cell.faults.seen["DeleteAccessEntry"] == 0 and cell.faults.injected["CreateAccessEntry"] == ATTEMPTS
    assert PLATFORM not in cell.entries(), "half-done: the node entry is gone, the protected entry not back"
    assert cell.alerts() == [("protected-entry", "failed")]
    assert cell.counted("RollbackFailures") == [{"rule": "protected-entry"}]
    assert cell.pending()[PLATFORM]["status"] == "failed"

    cell.faults.clear()
    assert ("protected-entry", "rolled-back") in _outcomes(cell.handle(created))  # the next event of the cluster
    assert cell.entries()[PLATFORM] == [ADMIN]
    assert cell.pending() == {}
    assert ("protected-entry", "rolled-back") in cell.alerts()


@pytest.mark.parametrize("duration", ["once", "persistent"])
def test_creator_admin_removal_with_describe_cluster_failing(cells, duration):
    cell = cells()
    lab = f"{cell.cluster}-lab"
    make_cluster(cell.world, lab, who="attacker", bootstrap=True)
    cell.clusters.append(lab)
    eks = cell.world.eks("platform")
    eks.create_access_entry(clusterName=lab, principalArn=PLATFORM)
    eks.associate_access_policy(clusterName=lab, principalArn=PLATFORM, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    create_cluster = next(e for e in cell.world.pending_events() if e["detail"]["eventName"] == "CreateCluster")
    cell.faults.inject(cell.eks_client(), "DescribeCluster", "ServerException", 500, times=1 if duration == "once" else ALWAYS)

    if duration == "once":
        assert _outcomes(cell.handle(create_cluster)) == [("bootstrap-admin", "rolled-back")]
        assert DEVELOPER not in cell.entries(lab)
        return
    error = _raised(lambda: cell.handle(create_cluster))
    assert isinstance(error, ClientError) and cell.faults.injected["DescribeCluster"] == ATTEMPTS
    assert cell.alerts() == [("bootstrap-admin", "failed")]
    assert cell.counted("RollbackFailures") == [{"rule": "bootstrap-admin"}]
    assert DEVELOPER in cell.entries(lab)
    deferred = DeferredCreatorRemovals(cell.world.platform.client("dynamodb"), cell.world.ledger_table, ACCOUNT).all()
    assert f"{cell.world.region}/{lab}" in deferred, "kept for the sweep"

    cell.faults.clear()
    assert ("bootstrap-admin", "rolled-back") in [(a["rule"], a["status"]) for a in cell.sweep()["acted"]]
    assert DEVELOPER not in cell.entries(lab)


# --- 3. DynamoDB ----------------------------------------------------------------------------------


def _ledger_item(pk_test: Callable[[str], bool], what: str) -> Callable[[dict], bool]:
    def match(body: dict) -> bool:
        if body.get("TableName") != "eks-guardrail-ledger":
            return False
        return pk_test((body.get(what) or {}).get("pk", {}).get("S", ""))

    return match


ENTRY_PK = lambda pk: pk.startswith(f"{ACCOUNT}/")  # noqa: E731 - the ledger's entry records
PENDING_PK = lambda pk: pk == "pending-decisions"  # noqa: E731
IDEMPOTENCY = lambda body: body.get("TableName") == "eks-guardrail-idempotency"  # noqa: E731
GRANT_PK = lambda pk: pk == "exemption-tag-grants"  # noqa: E731

#: target -> (DynamoDB operation, which requests)
DDB_TARGETS = {
    "ledger-read": ("GetItem", _ledger_item(ENTRY_PK, "Key")),
    "ledger-write": ("PutItem", _ledger_item(ENTRY_PK, "Item")),
    "ledger-delete": ("DeleteItem", _ledger_item(ENTRY_PK, "Key")),
    "pending-read": ("GetItem", _ledger_item(PENDING_PK, "Key")),
    "pending-write": ("PutItem", _ledger_item(PENDING_PK, "Item")),
    "pending-clear": ("PutItem", _ledger_item(PENDING_PK, "Item")),
    "idempotency-start": ("PutItem", IDEMPOTENCY),
    "idempotency-save": ("UpdateItem", IDEMPOTENCY),
    "idempotency-delete": ("DeleteItem", IDEMPOTENCY),
    "grant-write": ("PutItem", _ledger_item(GRANT_PK, "Item")),
    "grant-revoke": ("DeleteItem", _ledger_item(GRANT_PK, "Key")),
}
GRANT_DEFECT = (
    "enforcement/enforcer.py Enforcer._exemption_tags turns the DynamoDB ClientError of ExemptionTagGrants.grant "
    "(an allowed principal set the exemption tag) into Remedy('exemption-tag', None, FAILED) with no finding and "
    "does not set report.error; Enforcer._outcomes drops a remedy without a finding when no event finding answers "
    "it (an allowed principal's tag is no finding): the failure is not alerted, not counted, not raised (the handler "
    "returns 'evaluated' with no outcomes, so no Lambda retry), the grant is not recorded, and the exemption the "
    "platform team set silently never takes effect (a later change of that entry is rolled back)"
)
REVOKE_DEFECT = (
    "enforcement/enforcer.py Enforcer._exemption_tags: ExemptionTagGrants.revoke (DeleteItem) failing for a tag set by "
    "a principal not in exemptions.tag.set_by is caught and alerted `failed` (RollbackFailures counted) but "
    "report.error is not set and tag remedies are never kept pending: the handler returns normally (no Lambda retry, "
    "no DLQ), UntagResource is never attempted, and no later event or sweep removes the tag"
)
DDB_DEFECTS: dict[str, str] = {}  # GRANT_DEFECT and REVOKE_DEFECT are fixed
DDB_CODES = {"ProvisionedThroughputExceededException": 400, "InternalServerError": 500}
DDB_ONCE = ("ledger-read", "ledger-write", "pending-read", "idempotency-start", "idempotency-save")


def _ddb_cells():
    for target in DDB_TARGETS:
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=DDB_DEFECTS[target])] if target in DDB_DEFECTS else []
        for code in DDB_CODES:
            yield pytest.param(target, code, "persistent", id=f"{target}-{code}-persistent", marks=marks)
    for target in DDB_ONCE:
        yield pytest.param(target, "InternalServerError", "once", id=f"{target}-InternalServerError-once")


@pytest.mark.parametrize("target, code, duration", list(_ddb_cells()))
def test_dynamodb_fault(cells, target, code, duration):
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    cell = cells(SCENARIOS["attacker-tag"].org() if target.startswith("grant") else None)
    operation, when = DDB_TARGETS[target]

    def fault(times: int = 1 if duration == "once" else ALWAYS) -> None:
        cell.faults.inject(cell.ddb_client(), operation, code, DDB_CODES.get(code, 500), times=times, when=when, label=target)

    def loud(error: BaseException | None) -> None:
        assert error is not None, "the invocation must fail: Lambda retries it, the DLQ keeps the event"
        assert cell.faults.injected[target] == ATTEMPTS
        assert isinstance(error, (ClientError, IdempotencyPersistenceLayerError)), repr(error)

    # --- a compliant change: only the ledger is written (or deleted) ---------------------------
    if target in ("ledger-write", "ledger-delete"):
        if target == "ledger-delete":
            cell.world.eks("platform").create_access_entry(clusterName=cell.cluster, principalArn=READER)
            cell.deliver()
            assert cell.ledger(READER) is not None
            cell.world.eks("platform").delete_access_entry(clusterName=cell.cluster, principalArn=READER)
        else:
            cell.world.eks("platform").create_access_entry(clusterName=cell.cluster, principalArn=READER, kubernetesGroups=["readers"])
        event = cell.event()
        fault()
        error = _raised(lambda: cell.handle(event))
        if duration == "persistent":
            loud(error)
            assert (cell.ledger(READER) is None) == (target == "ledger-write"), "not recorded (write) / not forgotten (delete)"
            cell.faults.clear()
            assert cell.handle(event)["status"] == "evaluated"  # Lambda's retry
        else:
            assert error is None
        assert (cell.ledger(READER) is None) == (target == "ledger-delete")
        assert cell.alerts() == []
        return

    # --- exemption tags: an allowed principal's grant recorded / an attacker's tag revoked ------
    _developer_entry(cell)
    cell.deliver()
    if target == "grant-write":
        eks = cell.world.eks("platform")
        eks.tag_resource(resourceArn=eks.describe_access_entry(clusterName=cell.cluster, principalArn=DEVELOPER)["accessEntry"]["accessEntryArn"], tags={"guardrail": "exempt"})
        event = cell.event()
        fault()
        loud(_raised(lambda: cell.handle(event)))
        cell.faults.clear()
        cell.handle(event)  # Lambda's retry records the grant
        _grant_admin(cell)
        assert _outcomes(*cell.deliver()) == [("admin-policy", "alerted")], "the exemption the platform team set is honoured"
        return
    if target == "grant-revoke":
        _tag_developer(cell)
        event = cell.event()
        fault()
        loud(_raised(lambda: cell.handle(event)))
        assert cell.alerts() == [("exemption-tag", "failed")]
        cell.faults.clear()
        assert ("exemption-tag", "rolled-back") in _outcomes(cell.handle(event))  # Lambda's retry
        assert _untagged(cell)
        return

    # --- a violation: the developer granted cluster admin ------------------------------------
    _grant_admin(cell)
    event = cell.event()

    if target == "ledger-read":
        fault()
        error = _raised(lambda: cell.handle(event))
        if duration == "once":
            assert error is None and cell.alerts() == [("admin-policy", "rolled-back")]
            assert cell.entries()[DEVELOPER] == []
            return
        # the ledger is read inside reconciliation: a failed decision like an EKS fault
        loud(error)
        assert cell.alerts() == [("admin-policy", "failed")]
        assert cell.counted("RollbackFailures") == [{"rule": "admin-policy"}]
        assert cell.pending()[DEVELOPER]["status"] == "failed"
        assert cell.entries()[DEVELOPER] == [ADMIN]

    elif target in ("pending-read", "idempotency-start"):
        fault()
        error = _raised(lambda: cell.handle(event))
        if duration == "once":
            assert error is None and cell.alerts() == [("admin-policy", "rolled-back")]
            assert cell.entries()[DEVELOPER] == []
            return
        # before anything is done: nothing done, nothing to report; the retry does it all
        loud(error)
        assert cell.entries()[DEVELOPER] == [ADMIN] and cell.alerts() == [] and cell.counts == []

    elif target == "pending-write":
        # a failed EKS call must be recorded as pending, and that write fails too
        cell.faults.inject(cell.eks_client(), "DisassociateAccessPolicy", "ServerException", 500)
        fault()
        error = _raised(lambda: cell.handle(event))
        loud(error)
        assert cell.entries()[DEVELOPER] == [ADMIN] and cell.pending() == {}
        # nothing was done: the retry will decide and alert
        assert cell.alerts() == []

    elif target == "pending-clear":
        # first a failed decision, recorded pending; then EKS is back but the pending item is not
        cell.faults.inject(cell.eks_client(), "DisassociateAccessPolicy", "ServerException", 500)
        assert isinstance(_raised(lambda: cell.handle(event)), ClientError)
        assert cell.alerts() == [("admin-policy", "failed")] and cell.pending()[DEVELOPER]["status"] == "failed"
        cell.faults.clear()
        fault()
        error = _raised(lambda: cell.handle(event))
        loud(error)
        # half-done: the rollback WAS done, but not reported; the pending record still says
        # failed, so it is re-examined (not lost), and the invocation failed (Lambda retries)
        assert cell.entries()[DEVELOPER] == []
        assert cell.pending()[DEVELOPER]["status"] == "failed"

    elif target == "idempotency-save":
        fault()
        error = _raised(lambda: cell.handle(event))
        if duration == "once":
            assert error is None and cell.alerts() == [("admin-policy", "rolled-back")]
            return
        loud(error)
        assert isinstance(error, IdempotencyPersistenceLayerError)
        # done AND told before the failure: not silent
        assert cell.entries()[DEVELOPER] == [] and cell.alerts() == [("admin-policy", "rolled-back")]
        cell.faults.clear()
        # Lambda's retry while the record is still INPROGRESS: refused loudly, nothing done twice
        assert isinstance(_raised(lambda: cell.handle(event)), IdempotencyAlreadyInProgressError)
        assert cell.alerts() == []
        return

    elif target == "idempotency-delete":
        # a failed rollback raises; removing the INPROGRESS record then fails too
        cell.faults.inject(cell.eks_client(), "DisassociateAccessPolicy", "ServerException", 500)
        fault()
        error = _raised(lambda: cell.handle(event))
        loud(error)
        assert isinstance(error, IdempotencyPersistenceLayerError)
        # the failure was alerted, counted and recorded pending before that
        assert cell.alerts() == [("admin-policy", "failed")]
        assert cell.counted("RollbackFailures") == [{"rule": "admin-policy"}]
        assert cell.pending()[DEVELOPER]["status"] == "failed"
        cell.faults.clear()
        # the event's record is stuck INPROGRESS (until the invocation's time is up): the sweep completes it
        assert isinstance(_raised(lambda: cell.handle(event)), IdempotencyAlreadyInProgressError)
        assert [(a["rule"], a["status"]) for a in cell.sweep()["acted"]] == [("admin-policy", "rolled-back")]
        assert cell.entries()[DEVELOPER] == [] and cell.pending() == {}
        return

    # DynamoDB back: Lambda's retry of the same event completes it, and says so
    cell.faults.clear()
    retried = _outcomes(cell.handle(event))
    assert retried in ([("admin-policy", "rolled-back")], [("admin-policy", "already-undone")]), retried
    assert cell.entries()[DEVELOPER] == []
    assert cell.pending() == {}
    assert cell.alerts() == retried


# --- 4-6. alert channels ----------------------------------------------------------------------


def _protected_deleted(cell: Cell) -> list[dict[str, Any]]:
    cell.world.eks("attacker").delete_access_entry(clusterName=cell.cluster, principalArn=PLATFORM)
    return cell.deliver()


def _rolled_back_and_slack_failed(cell: Cell, results: list[dict[str, Any]], caplog: Any) -> None:
    assert _outcomes(*results) == [("protected-entry", "rolled-back")]
    assert cell.entries()[PLATFORM] == [ADMIN]
    assert [r["alert_failures"] for r in results if r.get("status") == "evaluated"] == [["slack"]]
    assert cell.alerts() == [("protected-entry", "rolled-back")], "SNS still got the alert"
    assert cell.counted("AlertFailures") == [{"channel": "slack"}]
    assert "Rollbacks" in cell.metrics.names and "AlertFailures" in cell.metrics.names
    assert "s3cr3t" not in caplog.text and "127.0.0.1" not in caplog.text


SNS_FAULTS = {
    "Throttling-persistent": ("Throttling", 400, ALWAYS, ATTEMPTS),
    "InternalError-persistent": ("InternalError", 500, ALWAYS, ATTEMPTS),
    "NotFound-topic-gone": ("NotFound", 404, ALWAYS, 1),
    "InternalError-once": ("InternalError", 500, 1, 1),
}


@pytest.mark.parametrize("kind", list(SNS_FAULTS))
def test_sns_fault(cells, kind):
    code, status, times, injected = SNS_FAULTS[kind]
    cell = cells(slack="slack")
    cell.faults.inject(cell.app.clients.client("sns", cell.world.region), "Publish", code, status, times=times)

    results = _protected_deleted(cell)

    assert _outcomes(*results) == [("protected-entry", "rolled-back")]
    assert cell.entries()[PLATFORM] == [ADMIN]
    assert cell.faults.injected["Publish"] == injected
    (url, body), = cell.posted
    assert url.endswith(SECRET_TOKEN) and "protected-entry: rolled back" in body["blocks"][0]["text"]["text"]
    if times == 1:
        assert cell.alerts() == [("protected-entry", "rolled-back")] and cell.counted("AlertFailures") == []
    else:
        assert cell.alerts() == []
        assert [r["alert_failures"] for r in results if r.get("status") == "evaluated"] == [["sns"]]
        assert cell.counted("AlertFailures") == [{"channel": "sns"}] and "AlertFailures" in cell.metrics.names


def test_both_channels_down_the_rollback_still_happens_and_both_are_counted(cells):
    def down(url: str, body: dict[str, Any]) -> None:
        raise OSError("connection refused")

    cell = cells(slack="slack", slack_post=down)
    cell.faults.inject(cell.app.clients.client("sns", cell.world.region), "Publish", "InternalError", 500)

    results = _protected_deleted(cell)

    assert _outcomes(*results) == [("protected-entry", "rolled-back")] and cell.entries()[PLATFORM] == [ADMIN]
    assert [r["alert_failures"] for r in results if r.get("status") == "evaluated"] == [["sns", "slack"]]
    assert cell.counted("AlertFailures") == [{"channel": "sns"}, {"channel": "slack"}]


def test_eks_and_sns_failing_together_slack_gets_the_failed_alert(cells):
    cell = cells(slack="slack")
    cell.faults.inject(cell.app.clients.client("sns", cell.world.region), "Publish", "InternalError", 500)
    cell.faults.inject(cell.eks_client(), "CreateAccessEntry", "ServiceUnavailableException", 503)
    cell.world.eks("attacker").delete_access_entry(clusterName=cell.cluster, principalArn=PLATFORM)
    event = cell.event()

    assert isinstance(_raised(lambda: cell.handle(event)), ClientError)

    (url, body), = cell.posted
    assert "protected-entry: rollback FAILED" in body["blocks"][0]["text"]["text"]
    assert sorted(n for n, _ in cell.counts if n in ("AlertFailures", "RollbackFailures")) == ["AlertFailures", "RollbackFailures"]
    assert cell.pending()[PLATFORM]["status"] == "failed"


def _raising(error: BaseException) -> Callable[[str, dict[str, Any]], None]:
    def post(url: str, body: dict[str, Any]) -> None:
        raise error

    return post


SLACK_RAISES = {
    "OSError": OSError("connection reset by peer"),
    "TimeoutError": TimeoutError("timed out"),
    "HTTPError-400": urllib.error.HTTPError("https://hooks.slack.test/x", 400, "Bad Request", None, None),  # type: ignore[arg-type]
    "HTTPError-500": urllib.error.HTTPError("https://hooks.slack.test/x", 500, "Internal Server Error", None, None),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("kind", list(SLACK_RAISES))
def test_slack_post_raising(cells, caplog, kind):
    cell = cells(slack="slack", slack_post=_raising(SLACK_RAISES[kind]))
    caplog.set_level(logging.DEBUG, logger="eks_guardrail")
    _rolled_back_and_slack_failed(cell, _protected_deleted(cell), caplog)


SLACK_DEFECT = (
    "alerts/channels.py CHANNEL_ERRORS = (ClientError, BotoCoreError, OSError, ValueError) lacks "
    "http.client.HTTPException: in post_json, urlopen lets http.client.BadStatusLine (a malformed status line) and "
    "response.read() lets http.client.IncompleteRead (a truncated body) escape unwrapped, neither is an OSError, so "
    "Dispatcher.send re-raises: Reporter.report and AccessEntryApp._handle abort after the rollback was done and SNS "
    "was sent; AlertFailures is not counted, the event's later outcomes are neither counted nor alerted on any "
    "channel, and the invocation fails; Lambda's retry finds the entry fixed, re-alerts it on SNS as `already-undone` "
    "and fails the same way, so a misbehaving Slack endpoint sends the event to the DLQ"
)
#: path of the local webhook -> what the real Slack (or the network) does
SLACK_WEBHOOK = {
    "400-invalid-payload": "400",
    "404-no-service": "404",
    "429-rate-limited": "429",
    "500": "500",
    "503": "503",
    "slow-timeout": "slow",
    "connection-refused": None,
    "malformed-status-line": pytest.param("garbage"),
    "truncated-body": pytest.param("truncated"),
}


@pytest.mark.parametrize("path", list(SLACK_WEBHOOK.values()), ids=list(SLACK_WEBHOOK))
def test_real_webhook_failing(cells, account, caplog, path):
    url = f"{account.webhook}/{path}/{SECRET_TOKEN}" if path else f"http://127.0.0.1:{account.closed_port}/{SECRET_TOKEN}"
    secret = f"slack-{next(account.names)}"
    account.world.platform.client("secretsmanager").create_secret(Name=secret, SecretString=json.dumps({"webhook_url": url}))
    cell = cells(slack=secret, slack_post=functools.partial(post_json, timeout=0.3))
    caplog.set_level(logging.DEBUG, logger="eks_guardrail")
    started = time.monotonic()
    results = _protected_deleted(cell)
    assert time.monotonic() - started < 5
    _rolled_back_and_slack_failed(cell, results, caplog)


def test_real_webhook_healthy_is_posted(cells, account):
    """The control for the cells above: the same path, a webhook answering 200."""
    secret = f"slack-{next(account.names)}"
    account.world.platform.client("secretsmanager").create_secret(Name=secret, SecretString=f"{account.webhook}/200/{SECRET_TOKEN}")
    cell = cells(slack=secret, slack_post=functools.partial(post_json, timeout=0.3))
    results = _protected_deleted(cell)
    assert [r["alert_failures"] for r in results if r.get("status") == "evaluated"] == [[]]
    assert cell.counted("AlertFailures") == []


SECRET_FAULTS = {
    # kind: (secret value or None for missing, injected (code, status, times) or None)
    "missing": (None, None),
    "webhook_url-not-a-string": (json.dumps({"webhook_url": 123}), None),
    "not-a-url": ("xoxb-not-a-webhook", None),
    "throttled-persistent": ("ok", ("ThrottlingException", 400, ALWAYS)),
    "5xx-persistent": ("ok", ("InternalServiceError", 500, ALWAYS)),
    "DecryptionFailure": ("ok", ("DecryptionFailure", 400, ALWAYS)),
    "throttled-once": ("ok", ("ThrottlingException", 400, 1)),
}


@pytest.mark.parametrize("kind", list(SECRET_FAULTS))
def test_slack_secret_failing(cells, account, caplog, kind):
    value, fault = SECRET_FAULTS[kind]
    secret = f"slack-{next(account.names)}"
    if value is not None:
        value = f"https://hooks.slack.test/{SECRET_TOKEN}" if value == "ok" else value
        account.world.platform.client("secretsmanager").create_secret(Name=secret, SecretString=value)
    cell = cells(slack=secret)
    caplog.set_level(logging.DEBUG, logger="eks_guardrail")
    if fault:
        code, status, times = fault
        cell.faults.inject(cell.app.clients.client("secretsmanager"), "GetSecretValue", code, status, times=times)

    results = _protected_deleted(cell)

    if fault and fault[2] == 1:
        assert cell.faults.injected["GetSecretValue"] == 1
        assert len(cell.posted) == 1 and cell.counted("AlertFailures") == []
        assert cell.alerts() == [("protected-entry", "rolled-back")]
        return
    if fault:
        assert cell.faults.injected["GetSecretValue"] == (ATTEMPTS if status >= 500 or "Throttling" in code else 1)
    assert cell.posted == []
    _rolled_back_and_slack_failed(cell, results, caplog)
