"""The sweep fanned out at organisation scale (issue 16): N clusters x M entries over R regions,
through the real lister -> queue -> worker code, on the emulator, with the queue (moto SQS) and
the workers driven in process.

The world (`eks_guardrail.local.mock_aws`): the demo account, IAM roles for every principal
(the protected Platform role, one node role per region trusting ec2.amazonaws.com, a pool of
2 x M team roles), N clusters in API mode spread round-robin over the regions, each with M
entries: Platform holding cluster admin, the region's node role (EC2_LINUX), and M - 2 team
roles from the pool (a different window per cluster) holding AmazonEKSViewPolicy on their own
namespace. All compliant with the rules (enforce mode, tests/world_helpers.enforce_rules): the
figures are those of a clean organisation. Clusters and entries are written to the emulator's
backends directly (creating 200,000 entries through the API would take hours); every read the
guardrail makes goes through the real API.

Phases:
- memory: the tracemalloc peak of one worker processing one message (a cluster of M entries),
  measured when 10, 100 and N clusters exist (a warm worker, its own ledger table);
- projection check: K clusters swept one message at a time with the latency really slept
  (`--sample`), measured against the projection below;
- throttling: K clusters swept by `--concurrency` workers at once, the latency really slept,
  EKS answering ThrottlingException beyond `--throttle-rate` requests a second for the whole
  account (the probe's token bucket); the clients' adaptive retries (clients.SWEEP_RETRIES)
  must absorb every throttle;
- the run: the lister once (`SweepApp.handle` with a sweep queue: ListClusters, one
  SendMessageBatch per 10 clusters), then the worker over every message, one SQS event per
  message (batch size 1), deleted on success and made visible again on failure, as the event
  source mapping does. Calls are counted per invocation (the probe at the botocore layer);
  the latency is not slept (hours at this scale): the projection is
    one invocation = its HTTP attempts x latency / threads (the worker's read pool),
    the run = the lister's attempts x latency (it is sequential)
              + the sum over the invocations / the event source mapping's maximum concurrency.
  `--budget S` stops driving the workers after S seconds: the messages left are counted, and
  the run's figures are extrapolated from the mean per cluster (said so in the report).

Run alone: `python benchmarks/fanout_scale.py [--clusters 1000] [--entries 200] [--regions 3]
[--latency 0.05] [--concurrency 5] [--threads 4] [--throttle-rate R] [--sample K]
[--throttle-sample K] [--memory-at 10,100] [--budget S] [--quick] [--json FILE]`.
Progress on standard error, the tables on standard output. `python benchmarks/fanout_scale.py
--render FILE` prints the tables of a run saved with --json again.
"""

from __future__ import annotations

import gc
import json
import math
import queue
import sys
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import PartResult, Probe, Table, Target, fmt_ops, part_main, peak_rss_mib, progress, progress_done, use_repo_paths  # noqa: E402

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "ca-central-1")
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
MEMORY_AT = (10, 100)
#: "A few minutes" for one invocation (the worker's Lambda timeout is 10 minutes, Lambda's cap 15).
INVOCATION_LIMIT = 300.0
#: Modules whose objects are the worker's own (the emulator's are not: eks_guardrail.local, moto).
WORKER_MODULES = ("eks_guardrail", "botocore", "boto3", "aws_lambda_powertools", "concurrent", "threading", "urllib3")
QUICK = {"clusters": 30, "entries": 20, "sample": 2, "throttle_sample": 5}


def _say(message: str) -> None:
    progress(message)


# --- the world ----------------------------------------------------------------------------------


class Org:
    """The emulated organisation: the world, its regions, the IAM roles, the clusters made so far."""

    def __init__(self, regions: tuple[str, ...], entries: int):
        from eks_guardrail.demo.world import ACCOUNT, TRUST_POLICY, create_world

        self.account, self.regions, self.entries = ACCOUNT, regions, entries
        self.world = create_world(region=regions[0])
        iam = self.world.platform.client("iam")
        self.ids: dict[str, str] = {}
        for role in iam.list_roles()["Roles"]:
            self.ids[role["Arn"]] = role["RoleId"]
        self.platform = self.world.role_arn("Platform")
        self.node_roles = {}
        for region in regions:
            role = iam.create_role(RoleName=f"eks-node-{region}", AssumeRolePolicyDocument=NODE_TRUST)["Role"]
            self.node_roles[region] = role["Arn"]
            self.ids[role["Arn"]] = role["RoleId"]
        self.pool: list[str] = []
        for i in range(max(2 * entries, 4)):
            role = iam.create_role(RoleName=f"team-{i:04d}", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]
            self.pool.append(role["Arn"])
            self.ids[role["Arn"]] = role["RoleId"]
        self.clusters: list[tuple[str, str]] = []  # (region, name) in the order made

    def tables(self, *names: str) -> None:
        ddb = self.world.platform.client("dynamodb")
        for table in names:
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
                BillingMode="PAY_PER_REQUEST",
            )

    def grow(self, total: int) -> None:
        """Make clusters until `total` exist, written to the emulator's backends directly."""
        import uuid

        from moto.eks.models import eks_backends

        from eks_guardrail.local import access_entry_backends
        from eks_guardrail.local.backend import AccessEntry, Association, default_username, now, parse_principal

        made = time.perf_counter()
        first = len(self.clusters)
        for c in range(first, total):
            region = self.regions[c % len(self.regions)]
            name = f"c{c:04d}"
            cluster = eks_backends[self.account][region].create_cluster(
                name=name, role_arn=self.platform, resources_vpc_config={"subnetIds": ["subnet-0a1b2c3d"]}
            )
            backend = access_entry_backends[self.account][region]
            backend.cluster_created(cluster, {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}, None)
            entries = backend.entries[name]
            ts = now()

            def entry(arn: str, kind: str, groups: list[str], policy: str | None = None, namespace: str | None = None) -> None:
                principal = parse_principal(arn)
                assert principal is not None
                made_entry = AccessEntry(
                    cluster_name=name, principal_arn=arn, type=kind, username=default_username(principal, kind),
                    kubernetes_groups=groups,
                    access_entry_arn=f"arn:aws:eks:{region}:{self.account}:access-entry/{name}/role/{self.account}/{principal.name}/{uuid.uuid4()}",
                    created_at=ts, modified_at=ts, tags={}, principal_id=self.ids[arn],
                )
                if policy:
                    scope = {"type": "namespace", "namespaces": [namespace]} if namespace else {"type": "cluster", "namespaces": []}
                    made_entry.associations[policy] = Association(policy, scope, ts, ts)
                entries[arn] = made_entry

            entry(self.platform, "STANDARD", [], ADMIN)
            if self.entries >= 2:
                entry(self.node_roles[region], "EC2_LINUX", ["system:nodes", "system:bootstrappers"])
            offset = (c * 7919) % len(self.pool)
            for i in range(max(0, self.entries - 2)):
                arn = self.pool[(offset + i) % len(self.pool)]
                team = arn.rsplit("/", 1)[1]
                entry(arn, "STANDARD", ["team"], VIEW, team)
            self.clusters.append((region, name))
            if (c + 1) % 10 == 0 or c + 1 == total:
                rate = (c + 1 - first) / max(time.perf_counter() - made, 1e-9)
                _say(f"populating: {c + 1:,}/{total:,} clusters x {self.entries} entries ({rate:,.0f} clusters/s)")

    def session(self, probe: Probe | None = None) -> Any:
        """A session of the guardrail's role (its own clients), probed when `probe` is given."""
        import boto3

        credentials = self.world.guardrail.get_credentials()
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token, region_name=self.world.region,
        )
        if probe is not None:
            probe.attach(session)
        return session


def _record(message: dict[str, Any], region: str) -> dict[str, Any]:
    """A Lambda SQS event record of a received message."""
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "awsRegion": region}


def _event(run: str, account: str, region: str, cluster: str) -> dict[str, Any]:
    """The event of one cluster's message, as the lister writes it (the side phases' messages)."""
    from eks_guardrail.handlers.sweep_fanout import cluster_message
    from eks_guardrail.sweep.snapshot import ClusterRef

    body = json.dumps(cluster_message(run, account, ClusterRef(region, cluster)), sort_keys=True)
    return {"Records": [{"messageId": f"{run}-{cluster}", "receiptHandle": f"{run}-{cluster}", "body": body,
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
                         "eventSource": "aws:sqs", "awsRegion": region}]}


def _start_run(org: Org, table: str, run: str) -> None:
    """The run record a side phase's messages are counted in (the lister writes it in the run)."""
    from datetime import datetime, timezone

    from eks_guardrail.handlers.sweep_fanout import SweepRuns

    SweepRuns(org.world.platform.client("dynamodb", region_name=org.world.region), table, org.account).start(run, datetime.now(timezone.utc))


def _worker(org: Org, settings: Any, session: Any, table: str | None = None) -> Any:
    from eks_guardrail.handlers.sweep_app import SweepApp, sweep_clients
    from eks_guardrail.handlers.sweep_fanout import SweepWorker

    if table:
        settings = replace(settings, ledger_table=table)
    return SweepWorker(SweepApp(settings, sweep_clients(session), account=org.account))


def _context(function: str) -> Any:
    from eks_guardrail.demo.world import FakeLambdaContext

    return FakeLambdaContext(function_name=function, timeout_ms=600_000)


# --- phases -------------------------------------------------------------------------------------


def _worker_objects() -> Counter:
    """Live objects of the worker's own kinds (the guardrail's, botocore's, Powertools', threads),
    by type: none of the emulator's."""
    alive: Counter = Counter()
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", "")
        if isinstance(module, str) and module.startswith(WORKER_MODULES) and not module.startswith("eks_guardrail.local"):
            alive[f"{module}.{type(obj).__qualname__}"] += 1
    return alive


def measure_memory(org: Org, settings: Any, worker: Any, warmed: set[str]) -> dict[str, Any]:
    """tracemalloc peak of one warm worker processing the newest cluster's message (M entries);
    what it leaves behind: traced memory still held (the emulator's new state included: ledger
    items, CloudTrail history) and new live objects of the worker's own kinds."""
    context = _context("eks-guardrail-sweep-worker")
    for region, name in org.clusters[: len(org.regions)]:  # a client per region made before measuring
        if region not in warmed and (region, name) != org.clusters[-1]:
            worker.handle(_event("memory-warm", org.account, region, name), context)
            warmed.add(region)
    region, name = org.clusters[-1]
    event = _event("memory", org.account, region, name)
    gc.collect()
    before = _worker_objects()
    tracemalloc.start(1)
    started = time.perf_counter()
    answer = worker.handle(event, context)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    grown = _worker_objects() - before
    return {
        "clusters": len(org.clusters), "cluster": f"{region}/{name}", "entries": org.entries, "failed": bool(answer["batchItemFailures"]),
        "peak_mib": peak / 2**20, "retained_kib": retained / 1024, "worker_objects_retained": sum(grown.values()),
        "worker_objects_by_type": dict(grown.most_common(10)), "seconds_traced": seconds,
    }


def latency_sample(org: Org, settings: Any, clusters: int, latency: float, threads: int) -> dict[str, Any]:
    """One message at a time, the latency really slept: each invocation's wall time against
    its attempts x latency / threads."""
    probe = Probe(latency=latency)
    worker = _worker(org, settings, org.session(probe), "eks-guardrail-ledger-sample")
    _start_run(org, "eks-guardrail-ledger-sample", "sample")
    context = _context("eks-guardrail-sweep-worker")
    rows = []
    for i, (region, name) in enumerate(org.clusters[:clusters]):
        _say(f"projection check: cluster {i + 1}/{clusters} with {latency * 1000:.0f} ms slept per call")
        attempts_before = sum(probe.attempts.values())
        with probe.scope() as scope:
            started = time.perf_counter()
            answer = worker.handle(_event("sample", org.account, region, name), context)
            wall = time.perf_counter() - started
        attempts = sum(probe.attempts.values()) - attempts_before
        projected = attempts * latency / threads
        rows.append({"cluster": f"{region}/{name}", "calls": len(scope.calls), "attempts": attempts, "measured_s": wall,
                     "projected_s": projected, "ratio": wall / projected if projected else float("nan"),
                     "failed": bool(answer["batchItemFailures"])})
    probe.detach()
    return {"latency": latency, "threads": threads, "invocations": rows}


def throttled_sample(org: Org, settings: Any, clusters: int, latency: float, threads: int, concurrency: int, rate: float) -> dict[str, Any]:
    """`concurrency` workers at once (each its own clients, as each Lambda environment), the
    latency slept, EKS throttled beyond `rate` requests a second for the whole account."""
    probe = Probe(latency=latency, throttle={"eks": (rate, rate)})
    todo: queue.SimpleQueue = queue.SimpleQueue()
    _start_run(org, "eks-guardrail-ledger-throttled", "throttled")
    for region, name in org.clusters[:clusters]:
        todo.put(_event("throttled", org.account, region, name))
    workers = [_worker(org, settings, org.session(probe), "eks-guardrail-ledger-throttled") for _ in range(concurrency)]
    failures: list[str] = []
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def drain(worker: Any) -> None:
        context = _context("eks-guardrail-sweep-worker")
        while True:
            try:
                event = todo.get_nowait()
            except queue.Empty:
                return
            try:
                answer = worker.handle(event, context)
            except Exception as error:  # not expected: the processor reports failures, it does not raise
                with lock:
                    errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            with lock:
                done[0] += 1
                if answer["batchItemFailures"]:
                    failures.append(json.loads(event["Records"][0]["body"])["cluster"])

    started = time.perf_counter()
    pool = [threading.Thread(target=drain, args=(w,), daemon=True) for w in workers]
    for thread in pool:
        thread.start()
    while any(t.is_alive() for t in pool):
        time.sleep(1.0)
        seconds = time.perf_counter() - started
        _say(f"throttled sample: {done[0]}/{clusters} clusters, {probe.total():,} calls, "
             f"{sum(probe.throttled.values()):,} throttles absorbed, {seconds:,.0f} s")
    wall = time.perf_counter() - started
    probe.detach()
    eks_calls = sum(n for (service, _), n in probe.calls.items() if service == "eks")
    attempts = sum(probe.attempts.values())
    return {
        "clusters": clusters, "concurrency": concurrency, "threads": threads, "latency": latency, "rate": rate,
        "calls": probe.total(), "eks_calls": eks_calls, "attempts": attempts, "throttled": sum(probe.throttled.values()),
        "throttled_by_operation": dict(Counter({op: n for (_, op), n in probe.throttled.items()})),
        "failures": failures, "errors": errors, "swept": done[0], "wall_s": wall,
        "bound_s": max(attempts * latency / threads / concurrency, eks_calls / rate),
    }


def full_run(org: Org, settings: Any, latency: float, threads: int, budget: float | None, concurrency: int = 5) -> dict[str, Any]:
    """The lister once, then the workers over every message (batch size 1), calls counted per
    invocation; nothing slept. `concurrency` Lambda environments (each its own clients and its
    own memory of the run's IAM answers) take the messages in turn."""
    from eks_guardrail.handlers import sweep_fanout
    from eks_guardrail.handlers.sweep_app import SweepApp, sweep_clients
    from eks_guardrail.handlers.sweep_fanout import SweepWorker

    reported: list[dict[str, Any]] = []
    real_report = sweep_fanout.report_run
    sweep_fanout.report_run = lambda app, summary: (reported.append(summary), real_report(app, summary))[1]
    try:
        probe = Probe()
        session = org.session(probe)
        app = SweepApp(settings, sweep_clients(session), account=org.account)
        sqs = org.world.platform.client("sqs", region_name=org.world.region)  # the event source mapping's poller: not counted

        _say(f"lister: listing {len(org.clusters):,} clusters in {len(org.regions)} regions, sending the messages")
        tracemalloc.start(1)
        with probe.scope() as scope:
            started = time.perf_counter()
            listed = app.handle({}, _context("eks-guardrail-sweep"))
            lister_seconds = time.perf_counter() - started
        lister_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        lister = {
            "seconds": lister_seconds, "calls": len(scope.calls), "attempts": sum(probe.attempts.values()),
            "by_operation": dict(scope.by_operation()), "sent": listed["sent"], "clusters": listed["clusters"],
            "errors": listed["errors"], "peak_mib": lister_peak / 2**20,
        }
        lister["projected_s"] = lister["attempts"] * latency
        probe.reset()

        containers = [SweepWorker(SweepApp(settings, sweep_clients(org.session(probe)), account=org.account)) for _ in range(concurrency)]
        context = _context("eks-guardrail-sweep-worker")
        invocations: list[dict[str, Any]] = []
        deliveries: Counter = Counter()
        swept: Counter = Counter()
        failures: list[str] = []
        started = time.perf_counter()
        stopped_early = False
        while True:
            answer = sqs.receive_message(QueueUrl=settings.sweep_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=3600)
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                if budget is not None and time.perf_counter() - started > budget:
                    stopped_early = True
                    break
                body = json.loads(message["Body"])
                key = f"{body['region']}/{body['cluster']}"
                deliveries[key] += 1
                attempts_before = sum(probe.attempts.values())
                with probe.scope() as scope:
                    began = time.perf_counter()
                    worker = containers[sum(deliveries.values()) % concurrency]
                    result = worker.handle({"Records": [_record(message, org.world.region)]}, context)
                    seconds = time.perf_counter() - began
                attempts = sum(probe.attempts.values()) - attempts_before
                ops = scope.by_operation()
                eks = sum(1 for service, _, _ in scope.calls if service == "eks")
                failed = bool(result["batchItemFailures"])
                invocations.append({"cluster": key, "calls": len(scope.calls), "attempts": attempts, "eks_calls": eks,
                                    "get_roles": ops.get("GetRole", 0), "update_items": ops.get("UpdateItem", 0), "seconds": seconds,
                                    "failed": failed})
                if failed:
                    failures.append(key)
                    sqs.change_message_visibility(QueueUrl=settings.sweep_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                else:
                    swept[key] += 1
                    sqs.delete_message(QueueUrl=settings.sweep_queue_url, ReceiptHandle=message["ReceiptHandle"])
                n = len(invocations)
                elapsed = time.perf_counter() - started
                left = len(org.clusters) - len(swept)
                _say(f"workers: {n:,} invocations, {len(swept):,}/{len(org.clusters):,} clusters swept, {probe.total():,} calls, "
                     f"{elapsed:,.0f} s, about {elapsed / n * left:,.0f} s left" + (f", {len(failures)} failed" if failures else ""))
            if stopped_early:
                break
        worker_seconds = time.perf_counter() - started
        left_in_queue = 0
        if stopped_early:
            attributes = sqs.get_queue_attributes(QueueUrl=settings.sweep_queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            left_in_queue = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        ddb = org.world.platform.client("dynamodb", region_name=org.world.region)
        run_item = ddb.get_item(TableName=settings.ledger_table, Key={"pk": {"S": "sweep-run"}, "sk": {"S": f"{org.account}/{listed['run']}"}},
                                ConsistentRead=True).get("Item", {})
        return {
            "lister": lister,
            "invocations": invocations,
            "by_operation": dict(probe.by_operation()),
            "by_service": dict(Counter({service: n for (service, _), n in probe.calls.items()})),
            "deliveries": dict(Counter(deliveries.values())),
            "clusters_swept": len(swept),
            "swept_more_than_once": sorted(k for k, n in swept.items() if n > 1),
            "failures": failures,
            "worker_seconds": worker_seconds,
            "stopped_early": stopped_early,
            "left_in_queue": left_in_queue,
            "run_record": {"expected": int(run_item.get("expected", {}).get("N", "0")), "swept": len(run_item.get("swept", {}).get("SS", [])),
                           "failed": len(run_item.get("failed", {}).get("SS", []))},
            "reported": reported,
        }
    finally:
        sweep_fanout.report_run = real_report


# --- the part -----------------------------------------------------------------------------------


def run(
    quick: bool = False, clusters: int | None = None, entries: int | None = None, regions: int = 3, latency: float = 0.05,
    concurrency: int = 5, threads: int = 4, throttle_rate: float = 50.0, sample: int | None = None, throttle_sample: int | None = None,
    memory_at: str | None = None, budget: float | None = None,
) -> PartResult:
    use_repo_paths()
    from eks_guardrail.local import mock_aws
    from world_helpers import enforce_rules

    clusters = clusters if clusters is not None else (QUICK["clusters"] if quick else 1000)
    entries = entries if entries is not None else (QUICK["entries"] if quick else 200)
    sample = sample if sample is not None else (QUICK["sample"] if quick else 5)
    throttle_sample = throttle_sample if throttle_sample is not None else (QUICK["throttle_sample"] if quick else 10)
    if not 1 <= regions <= len(REGIONS):
        raise SystemExit(f"--regions: 1 to {len(REGIONS)}")
    if clusters < 1 or entries < 1:
        raise SystemExit("--clusters and --entries: at least 1")
    chosen = REGIONS[:regions]
    marks = sorted({m for m in (tuple(int(x) for x in memory_at.split(",") if x.strip()) if memory_at else MEMORY_AT) if 0 < m < clusters} | {clusters})
    size = f"{clusters:,} clusters x {entries} entries, {regions} regions"
    result = PartResult("fanout", f"The sweep fanned out: {size} ({latency * 1000:.0f} ms a call, {concurrency} workers x {threads} threads)",
                        "python benchmarks/fanout_scale.py")
    phases: dict[str, float] = {}
    data: dict[str, Any] = {"clusters": clusters, "entries": entries, "regions": list(chosen), "latency": latency,
                            "concurrency": concurrency, "threads": threads, "throttle_rate": throttle_rate}

    with mock_aws():
        began = time.perf_counter()
        org = Org(chosen, entries)
        sqs = org.world.platform.client("sqs", region_name=org.world.region)
        dlq = sqs.create_queue(QueueName="eks-guardrail-sweep-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sweep_queue = sqs.create_queue(QueueName="eks-guardrail-sweep", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}), "VisibilityTimeout": "3600"})["QueueUrl"]
        org.tables("eks-guardrail-ledger-memory", "eks-guardrail-ledger-sample", "eks-guardrail-ledger-throttled")
        settings = replace(org.world.settings(enforce_rules(), regions=chosen), sweep_queue_url=sweep_queue, sweep_max_receives=3, sweep_threads=threads)
        phases["world"] = time.perf_counter() - began

        memory_worker = _worker(org, settings, org.session(), "eks-guardrail-ledger-memory")
        for run_ in ("memory-warm", "memory"):
            _start_run(org, "eks-guardrail-ledger-memory", run_)
        warmed: set[str] = set()
        memory = []
        began = time.perf_counter()
        for mark in marks:
            org.grow(mark)
            _say(f"memory: one message with {mark:,} clusters in the account (traced)")
            memory.append(measure_memory(org, settings, memory_worker, warmed))
        phases["populate and memory"] = time.perf_counter() - began
        progress_done(f"populated {clusters:,} clusters x {entries} entries in {phases['populate and memory']:,.0f} s (memory traced at {', '.join(map(str, marks))})")
        data["memory"] = memory

        if sample and latency > 0:
            began = time.perf_counter()
            data["sample"] = latency_sample(org, settings, min(sample, clusters), latency, threads)
            phases["projection check"] = time.perf_counter() - began
            progress_done(f"projection check: {phases['projection check']:,.0f} s")
        if throttle_sample and throttle_rate:
            began = time.perf_counter()
            data["throttled"] = throttled_sample(org, settings, min(throttle_sample, clusters), latency, threads, concurrency, throttle_rate)
            phases["throttled sample"] = time.perf_counter() - began
            progress_done(f"throttled sample: {phases['throttled sample']:,.0f} s")

        began = time.perf_counter()
        data["run"] = full_run(org, settings, latency, threads, budget, concurrency)
        phases["the run"] = time.perf_counter() - began
        progress_done(f"the run: {phases['the run']:,.0f} s")
    data["phases_s"] = phases
    data["peak_rss_mib"] = peak_rss_mib()
    _report(result, data)
    result.data = data
    return result


def _expected_calls(entries: int) -> int:
    """One worker invocation on a cluster of this world met for the first time (derived from the
    code: sweep/snapshot.py, sweep_app.py, sweep_fanout.py): DescribeCluster, ListAccessEntries
    (100 a page), DescribeAccessEntry each, ListAssociatedAccessPolicies each STANDARD entry (not
    the node entry), GetRole each distinct principal not yet looked up by that Lambda environment
    in this run (not counted here: see `get_roles`), the ledger's Query, the pending decisions'
    BatchGetItem (enforce), the sweep memory's GetItem and PutItem, BatchWriteItem (25 a call),
    the run record's UpdateItem (one invocation more: the claim of the completed run)."""
    standard = entries - (1 if entries >= 2 else 0)
    return 1 + max(1, math.ceil(entries / 100)) + entries + standard + 1 + 1 + 1 + 1 + math.ceil(entries / 25) + 1


def _report(result: PartResult, data: dict[str, Any]) -> None:
    run_ = data["run"]
    latency, threads, concurrency = data["latency"], data["threads"], data["concurrency"]
    clusters, entries = data["clusters"], data["entries"]
    invocations = run_["invocations"]
    done = len(invocations)
    lister = run_["lister"]
    projected = [i["attempts"] * latency / threads for i in invocations]
    worker_sum = sum(projected)
    scale = clusters / done if done else float("nan")  # 1 unless the budget stopped the run early
    extrapolated = run_["stopped_early"]
    total_worker_calls = sum(i["calls"] for i in invocations)
    eks_calls = sum(i["eks_calls"] for i in invocations)
    run_wall = lister["projected_s"] + worker_sum * scale / concurrency
    sample = data.get("sample")
    ratio = None
    if sample and sample["invocations"]:
        ratio = sum(r["measured_s"] for r in sample["invocations"]) / sum(r["projected_s"] for r in sample["invocations"])
    calls = [i["calls"] for i in invocations]
    worst = max(projected) if projected else 0.0
    rows = [
        ("lister: one invocation", f"{lister['calls']:,}", fmt_ops(lister["by_operation"]), f"{lister['seconds']:.1f}", f"{lister['projected_s']:.1f}",
         f"sent {lister['sent']:,} of {lister['clusters']:,}"),
        ("worker: per invocation (mean)", f"{total_worker_calls / max(done, 1):,.1f}", f"min {min(calls, default=0):,}, max {max(calls, default=0):,}",
         f"{run_['worker_seconds'] / max(done, 1):.2f}", f"{worst:.1f} (max)", f"expected {_expected_calls(entries):,} (+1 on the completing one)"),
        (f"workers: {done:,} invocations" + (f" of {clusters:,} (extrapolated x{scale:.2f})" if extrapolated else ""),
         f"{round(total_worker_calls * scale):,}", "", f"{run_['worker_seconds']:,.0f}", f"{worker_sum * scale:,.0f} (sum)",
         f"{len(run_['failures'])} failed"),
        (f"the run at {concurrency} x {threads}", f"{round(lister['calls'] + total_worker_calls * scale):,}", "", "",
         f"{run_wall:,.0f}" + (f" (x{ratio:.2f} measured: {run_wall * ratio:,.0f})" if ratio else ""), ""),
    ]
    result.tables.append(Table(
        f"the run, {clusters:,} x {entries} in {len(data['regions'])} regions; emulator s: in-process time of the emulator, nothing slept; "
        f"projected s: attempts x {latency * 1000:.0f} ms / {threads} threads (lister: / 1), run: lister + sum / {concurrency}",
        ("", "calls", "by operation", "emulator s", "projected s", ""), rows,
    ))
    ops = Counter(run_["by_operation"])
    result.tables.append(Table(
        "the workers' calls by operation" + (" (measured on the clusters swept, then per cluster)" if extrapolated else ""),
        ("operation", "calls", "per cluster"),
        [(op, round(n * scale), round(n / max(done, 1), 2)) for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))]
        + [("total", round(total_worker_calls * scale), round(total_worker_calls / max(done, 1), 2))],
    ))
    if sample:
        result.tables.append(Table(
            f"projection check: one message at a time, {latency * 1000:.0f} ms really slept per call, {threads} threads",
            ("cluster", "calls", "measured s", "projected s", "measured / projected"),
            [(r["cluster"], r["calls"], round(r["measured_s"], 2), round(r["projected_s"], 2), round(r["ratio"], 2)) for r in sample["invocations"]],
        ))
    throttled = data.get("throttled")
    if throttled:
        result.tables.append(Table(
            f"throttling: {throttled['clusters']} clusters, {throttled['concurrency']} workers at once x {throttled['threads']} threads, "
            f"{throttled['latency'] * 1000:.0f} ms slept, EKS at {throttled['rate']:g}/s for the account (burst {throttled['rate']:g})",
            ("calls", "EKS calls", "attempts", "throttles absorbed", "failed", "wall s", "bound s", "wall / bound"),
            [(throttled["calls"], throttled["eks_calls"], throttled["attempts"], throttled["throttled"], len(throttled["failures"]) + len(throttled["errors"]),
              round(throttled["wall_s"], 1), round(throttled["bound_s"], 1), round(throttled["wall_s"] / throttled["bound_s"], 2) if throttled["bound_s"] else None)],
        ))
    memory = data["memory"]
    result.tables.append(Table(
        f"memory of one worker processing one message ({entries} entries), warm, by clusters in the account",
        ("clusters", "tracemalloc peak MiB", "held after KiB (the emulator's new state)", "worker objects left", ""),
        [(m["clusters"], round(m["peak_mib"], 2), round(m["retained_kib"], 1), m["worker_objects_retained"], "FAILED" if m["failed"] else "")
         for m in memory],
    ))

    swept_ok = not run_["failures"] and not run_["swept_more_than_once"] and run_["clusters_swept"] == done and set(run_["deliveries"]) <= {1}
    result.targets.append(Target(
        "every cluster swept exactly once, none failed",
        f"{run_['clusters_swept']:,} swept of {clusters:,}, {len(run_['failures'])} failed, deliveries {run_['deliveries']}",
        "all, 0", swept_ok and (run_["clusters_swept"] == clusters or extrapolated),
        "the run stopped at the budget: the rest extrapolated" if extrapolated else "",
    ))
    if not extrapolated:
        summary = run_["reported"][0] if len(run_["reported"]) == 1 else None
        result.targets.append(Target(
            "one run summary, every cluster in it", f"{len(run_['reported'])} summary: " + (f"{summary['swept']:,} swept, {len(summary['failed'])} failed" if summary else "-"),
            f"1: {clusters:,} swept", summary is not None and summary["swept"] == clusters and not summary["failed"],
        ))
    result.targets.append(Target(
        "one invocation at most a few minutes (projected)", f"{worst:.0f} s (max of {done:,})", f"{INVOCATION_LIMIT:.0f} s", worst <= INVOCATION_LIMIT,
        f"calibrated by the measured ratio: {worst * ratio:.0f} s" if ratio else "",
    ))
    if throttled:
        result.targets.append(Target(
            f"throttles absorbed, no cluster failed (EKS at {throttled['rate']:g}/s)",
            f"{throttled['throttled']:,} throttles, {len(throttled['failures']) + len(throttled['errors'])} failed", "0 failed",
            not throttled["failures"] and not throttled["errors"] and throttled["swept"] == throttled["clusters"],
        ))
    if len(memory) > 1:
        low, high = memory[0]["peak_mib"], memory[-1]["peak_mib"]
        result.targets.append(Target(
            "a worker's memory flat in the number of clusters", f"{low:.1f} MiB at {memory[0]['clusters']:,}, {high:.1f} MiB at {memory[-1]['clusters']:,}",
            "within 10 %", high <= low * 1.1,
        ))
    if ratio:
        result.notes.append(f"projection check: measured / projected = {ratio:.2f} over {len(sample['invocations'])} invocations "
                            f"(the emulator's own time and the sequential steps of one invocation: the head, then the entries, then the ledger)")
    result.notes.append(
        f"the lister at {clusters:,} clusters: {lister['calls']:,} calls ({fmt_ops(lister['by_operation'])}), "
        f"{lister['seconds']:.1f} s in the emulator, {lister['projected_s']:.1f} s projected at {latency * 1000:.0f} ms a call, "
        f"tracemalloc peak {lister['peak_mib']:.1f} MiB"
    )
    if run_wall > lister["projected_s"]:
        rate_needed = eks_calls * scale / (run_wall - lister["projected_s"])
        result.notes.append(
            f"EKS calls of the run: {round(eks_calls * scale):,}; at {concurrency} x {threads} they arrive at about {rate_needed:,.0f}/s for the "
            f"account ({rate_needed / len(data['regions']):,.0f}/s a region): with EKS allowing less, the run takes EKS calls / rate instead "
            f"(e.g. {round(eks_calls * scale / 50):,} s at 50/s, {round(eks_calls * scale / 100):,} s at 100/s)"
        )
    if extrapolated:
        result.notes.append(f"EXTRAPOLATED: the budget stopped the workers after {done:,} of {clusters:,} clusters; the run's calls and "
                            f"projected times are the measured mean per cluster x {clusters:,} (every cluster has the same shape)")
    left = {t: n for m in memory for t, n in m["worker_objects_by_type"].items()}
    result.notes.append(
        "memory: the peak counts every allocation while the message is processed, the emulator's answers included; "
        "worker objects left: live objects of the guardrail's, botocore's and Powertools' types the message added"
        + (f" ({', '.join(f'{t} {n}' for t, n in left.items())}"
           + ("; PrincipalArn: arns.parse_principal_arn's LRU cache, at most 4,096" if any(t.endswith("PrincipalArn") for t in left) else "") + ")"
           if left else "")
    )
    if done >= 20:
        tenth = max(1, done // 10)
        first, last = invocations[:tenth], invocations[-tenth:]
        result.notes.append(
            f"emulator time of one invocation: {sum(i['seconds'] for i in first) / len(first):.2f} s over the first {tenth:,}, "
            f"{sum(i['seconds'] for i in last) / len(last):.2f} s over the last {tenth:,}, with the same calls: the emulator slows as its "
            f"state grows (moto, the process's heap), not the worker"
        )
    result.notes.append(
        "the lister's emulator time is mostly moto's SQS (each SendMessage recomputes the queue's attributes over every queued "
        "message: quadratic in messages); on AWS its time is its calls x latency"
    )
    phases = ", ".join(f"{k} {v:,.0f} s" for k, v in data["phases_s"].items())
    result.notes.append(f"this run: {phases}; peak RSS of the process (the emulator's state included) {data['peak_rss_mib']:,.0f} MiB")


def _options(parser: Any) -> None:
    parser.add_argument("--clusters", type=int, help="clusters in the account (default 1000; --quick 30)")
    parser.add_argument("--entries", type=int, help="access entries per cluster (default 200; --quick 20)")
    parser.add_argument("--regions", type=int, default=3, help="regions the clusters are spread over (default 3)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per HTTP attempt: projected in the run, slept in the samples (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=5, help="workers at once: the event source mapping's maximum concurrency (default 5)")
    parser.add_argument("--threads", type=int, default=4, help="threads of one worker (SWEEP_WORKER_THREADS, default 4)")
    parser.add_argument("--throttle-rate", type=float, default=50.0, help="EKS requests a second for the account in the throttled sample (default 50; 0: no throttled sample)")
    parser.add_argument("--sample", type=int, help="clusters swept with the latency really slept, to check the projection (default 5; 0: none)")
    parser.add_argument("--throttle-sample", type=int, help="clusters of the throttled sample (default 10; 0: none)")
    parser.add_argument("--memory-at", help="cluster counts at which one message's memory is traced, besides --clusters (default 10,100)")
    parser.add_argument("--budget", type=float, help="stop driving the workers after this many seconds and extrapolate per cluster")


def render_saved(path: str) -> int:
    """`--render FILE`: the tables of a run saved with --json, with this version's report."""
    from _probe import render

    saved = json.loads(Path(path).read_text())
    result = PartResult(saved["part"], saved["title"], saved["command"], seconds=saved.get("seconds", 0.0))
    _report(result, saved["data"])
    result.data = saved["data"]
    print(render(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        sys.exit(render_saved(sys.argv[2]))
    sys.exit(part_main(run, __doc__.splitlines()[0], extra=_options))
