"""Part 1, cold init: each Lambda handler's start, stage by stage, in fresh processes.

Stages, each timed from the first line of a fresh interpreter (the same prelude for every child):
- import: `import eks_guardrail.handlers.<handler>` (what Lambda's init phase runs);
- ready: the app built from its environment (`app.get()`) and the clients its events use made;
- first event: the first event handled, its AWS calls answered by `eks-guardrail local-aws`.

Each handler is paired, run by run, with two other fresh processes:
- `import boto3`;
- its floor: a fresh botocore session and the same clients (ready), then the minimum AWS
  calls its first event needs (first event), against the same local-aws endpoint.
Ratios are taken within each run, then the median over runs is reported. Peak RSS is the
handler process's own (`ru_maxrss`) at each stage.

The first events (each child handles one, in a state like the others'; a warm-up run of each
child kind comes first and is not counted):
- access entry: a compliant CreateAccessEntry (enforce mode, idempotency on), a new principal
  each run, on cluster `events` in eu-west-2;
- IAM principal: DeleteRole of a role bound to no entry; GUARDRAIL_REGIONS has one cluster;
- sweep: the scheduled event; one cluster `prod` (eu-west-1) of 1 + SWEEP_TEAMS compliant entries.

Run alone: `python benchmarks/cold_init.py [--quick] [--runs N] [--json FILE]`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import (  # noqa: E402
    ChildRun,
    PartResult,
    ROOT,
    Table,
    Target,
    child_env,
    fmt_ops,
    median,
    part_main,
    progress,
    progress_done,
    run_child,
    use_repo_paths,
)

ACCOUNT = "123456789012"  # the emulator's default account
HOME, EVENTS_REGION = "eu-west-1", "eu-west-2"
LEDGER, IDEMPOTENCY = "eks-guardrail-ledger", "eks-guardrail-idempotency"
TOPIC = f"arn:aws:sns:{HOME}:{ACCOUNT}:eks-guardrail-alerts"
GUARDRAIL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-guardrail-access-entry"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
SWEEP_TEAMS = 4
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})

def rules_data() -> dict[str, Any]:
    """The rules the handlers run with: the end-to-end tests' enforce rules (tests/world_helpers.py), as the stack passes them."""
    use_repo_paths()
    from world_helpers import enforce_rules

    return enforce_rules().handler_config()


#: The clients each handler's events use (service, region): its floor makes the same ones.
CLIENTS = {
    "access_entry": [("eks", EVENTS_REGION), ("dynamodb", HOME), ("sns", HOME)],
    "iam_principal": [("eks", HOME), ("iam", HOME), ("sns", HOME)],
    "sweep": [("eks", HOME), ("iam", HOME), ("dynamodb", HOME), ("sns", HOME)],
}
RETRIES = {"access_entry": "standard", "iam_principal": "standard", "sweep": "adaptive"}

#: The minimum AWS calls each first event needs (the floor makes exactly these), and why.
MINIMUM = {
    "access_entry": (6, "idempotency record written (PutItem) and completed (UpdateItem); the entry as it is now "
        "(DescribeAccessEntry, ListAssociatedAccessPolicies); the cluster's pending decisions (GetItem); "
        "the compliant state recorded in the ledger (PutItem)"),
    "iam_principal": (2, "the region's clusters (ListClusters), each one's entries (ListAccessEntries)"),
    "sweep": (3 + 3 * (1 + SWEEP_TEAMS) + 2, "ListClusters; DescribeCluster, ListAccessEntries; per entry DescribeAccessEntry and "
        "ListAssociatedAccessPolicies; GetRole per role (stale-principal); the ledger's records of the "
        "cluster (Query) and what the last sweep reported (GetItem); nothing written in a steady state"),
}

MIN_CALLS_CODE = {
    "access_entry": f"""
eks, ddb = clients["eks"], clients["dynamodb"]
key = "floor-" + uuid.uuid4().hex
principal = "arn:aws:iam::{ACCOUNT}:role/bench-floor"
ddb.put_item(TableName={IDEMPOTENCY!r}, Item={{"id": {{"S": key}}, "status": {{"S": "INPROGRESS"}}}}, ConditionExpression="attribute_not_exists(id)")
eks.describe_access_entry(clusterName="events", principalArn=principal)
eks.list_associated_access_policies(clusterName="events", principalArn=principal)
ddb.get_item(TableName={LEDGER!r}, Key={{"pk": {{"S": "pending#{ACCOUNT}#{EVENTS_REGION}#events"}}, "sk": {{"S": "pending"}}}}, ConsistentRead=True)
ddb.put_item(TableName={LEDGER!r}, Item={{"pk": {{"S": "floor"}}, "sk": {{"S": key}}, "entry": {{"S": "{{}}"}}}})
ddb.update_item(TableName={IDEMPOTENCY!r}, Key={{"id": {{"S": key}}}}, UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={{"#s": "status"}}, ExpressionAttributeValues={{":s": {{"S": "COMPLETED"}}}})
""",
    "iam_principal": """
eks = clients["eks"]
for name in eks.list_clusters()["clusters"]:
    eks.list_access_entries(clusterName=name)
""",
    "sweep": f"""
eks, iam, ddb = clients["eks"], clients["iam"], clients["dynamodb"]
for name in eks.list_clusters()["clusters"]:
    eks.describe_cluster(name=name)
    for principal in eks.list_access_entries(clusterName=name)["accessEntries"]:
        eks.describe_access_entry(clusterName=name, principalArn=principal)
        eks.list_associated_access_policies(clusterName=name, principalArn=principal)
        if ":role/" in principal:
            iam.get_role(RoleName=principal.rsplit("/", 1)[1])
    ddb.query(TableName={LEDGER!r}, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={{":pk": {{"S": "{ACCOUNT}#{HOME}#" + name}}}})
ddb.get_item(TableName={LEDGER!r}, Key={{"pk": {{"S": "sweep-memory"}}, "sk": {{"S": "{ACCOUNT}/{HOME}"}}}}, ConsistentRead=True)
""",
}

# Every child starts the same: this prelude, then T0.
PRELUDE = """
import json, os, resource, sys, time, uuid
STAGES, RSS = {}, {}
def mark(stage):
    STAGES[stage] = time.perf_counter() - T0
    RSS[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
COUNT_CALLS = """
import botocore.handlers
CALLS = []
botocore.handlers.BUILTIN_HANDLERS.append(("before-call", lambda model, **_: CALLS.append(model.name)))
"""
REPORT = """
print("BENCH " + json.dumps({"stages": STAGES, "rss": RSS, "result": globals().get("RESULT"), "calls": globals().get("CALLS")}, default=str))
"""

BOTO3_CHILD = PRELUDE + "T0 = time.perf_counter()\nimport boto3\nmark('import')\n" + REPORT


def handler_child(kind: str, count_calls: bool) -> str:
    ensure = "".join(f"    app.clients.client({s!r}, {r!r})\n" for s, r in CLIENTS[kind])
    return PRELUDE + (COUNT_CALLS if count_calls else "") + f"""
class Context:
    function_name = "eks-guardrail-{kind}"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:{HOME}:{ACCOUNT}:function:eks-guardrail-{kind}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self):
        return 60000
EVENT = json.loads(os.environ["BENCH_EVENT"])
T0 = time.perf_counter()
import eks_guardrail.handlers.{kind} as handler
mark("import")
app = handler.app.get()
if hasattr(app, "clients") and hasattr(app.clients, "client"):
{ensure}mark("ready")
RESULT = handler.handler(EVENT, Context())
mark("first event")
""" + REPORT


def floor_child(kind: str) -> str:
    clients = ", ".join(f"{s!r}: session.create_client({s!r}, region_name={r!r}, config=config)" for s, r in CLIENTS[kind])
    return PRELUDE + f"""
T0 = time.perf_counter()
import botocore.session
from botocore.config import Config
mark("import")
session = botocore.session.get_session()
config = Config(retries={{"mode": {RETRIES[kind]!r}, "max_attempts": 6}}, connect_timeout=5, read_timeout=20)
clients = {{{clients}}}
mark("ready")
{MIN_CALLS_CODE[kind]}
mark("first event")
""" + REPORT


# --- the endpoint and its world -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalAws:
    """`eks-guardrail local-aws` in the background (this part's own child; stopped by its pid)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LocalAws":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eks_guardrail", "local-aws", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=child_env(),
        )
        banner = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening" not in banner:
            self.__exit__()
            raise RuntimeError(f"local-aws did not start: {banner!r}")
        return self

    def __exit__(self, *args: Any) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def build_world(url: str, principals: list[str]) -> None:
    import boto3

    def client(service: str, region: str = HOME) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing")

    iam, ddb, sns = client("iam"), client("dynamodb"), client("sns")
    for name in ["Platform", "eks-guardrail-access-entry", "bench-floor", *principals, *(f"team-{i}" for i in range(SWEEP_TEAMS))]:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    for table, keys in ((LEDGER, ("pk", "sk")), (IDEMPOTENCY, ("id",))):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"} for i, k in enumerate(keys)],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    sns.create_topic(Name="eks-guardrail-alerts")
    platform = f"arn:aws:iam::{ACCOUNT}:role/Platform"
    for region, cluster in ((HOME, "prod"), (EVENTS_REGION, "events")):
        eks = client("eks", region)
        eks.create_cluster(
            name=cluster, roleArn=platform, resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
            accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
        )
        eks.create_access_entry(clusterName=cluster, principalArn=platform)
        eks.associate_access_policy(clusterName=cluster, principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    home = client("eks", HOME)
    for i in range(SWEEP_TEAMS):
        arn = f"arn:aws:iam::{ACCOUNT}:role/team-{i}"
        home.create_access_entry(clusterName="prod", principalArn=arn, kubernetesGroups=["dev"])
        home.associate_access_policy(clusterName="prod", principalArn=arn, policyArn=VIEW, accessScope={"type": "namespace", "namespaces": [f"team-{i}"]})
    events = client("eks", EVENTS_REGION)
    for name in ["bench-floor", *principals]:
        events.create_access_entry(clusterName="events", principalArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", kubernetesGroups=["dev"])


def first_event(kind: str, principal: str) -> dict[str, Any]:
    use_repo_paths()
    import cloudtrail_builder as ct

    if kind == "access_entry":
        record = ct.create_access_entry(
            f"arn:aws:iam::{ACCOUNT}:role/{principal}", cluster="events", groups=["dev"], account=ACCOUNT,
            region=EVENTS_REGION, identity=ct.assumed_role_identity("Platform", account=ACCOUNT),
        )
        return ct.eventbridge(record)
    if kind == "iam_principal":
        return ct.eventbridge(ct.delete_role("gone-role", account=ACCOUNT, identity=ct.assumed_role_identity("Platform", account=ACCOUNT)))
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
        "time": "2026-11-28T10:00:00Z", "region": HOME, "resources": [f"arn:aws:events:{HOME}:{ACCOUNT}:rule/eks-guardrail-sweep"], "detail": {},
    }


# --- measuring -------------------------------------------------------------------------------


def _parse(run: ChildRun, what: str) -> dict[str, Any]:
    for line in run.stdout.splitlines():
        if line.startswith("BENCH "):
            data = json.loads(line[6:])
            data["wall"] = run.seconds
            data["peak"] = run.peak_rss_mib
            return data
    raise RuntimeError(f"{what}: exit {run.returncode}, no result\n{run.stderr[-3000:]}")


def _result_problem(kind: str, result: Any) -> str | None:
    """Why the handler's answer is not the expected one (the stage would not measure what it says)."""
    if not isinstance(result, dict):
        return f"no result: {result!r}"[:200]
    if kind == "sweep":
        return None if not result.get("errors") and result.get("clusters") == 1 else f"sweep: {result}"[:300]
    if result.get("status") != "evaluated" or result.get("outcomes"):
        return f"{kind}: {result}"[:300]
    return None


HANDLERS = ("access_entry", "iam_principal", "sweep")
STAGES = ("import", "ready", "first event")


def run(quick: bool = False, runs: int | None = None) -> PartResult:
    runs = runs or (2 if quick else 7)
    result = PartResult("cold", "1. Cold init of each handler (fresh processes)", f"python benchmarks/cold_init.py --runs {runs}")
    principals = [f"bench-{i}" for i in range(runs + 1)]
    samples: dict[str, list[dict[str, Any]]] = {f"{k}/{role}": [] for k in HANDLERS for role in ("handler", "floor", "boto3")}
    problems: list[str] = []
    calls_made: dict[str, list[str]] = {}
    with LocalAws() as aws:
        progress("cold: building the world on local-aws")
        build_world(aws.url, principals)
        base_env = child_env(
            AWS_ENDPOINT_URL=aws.url, LEDGER_TABLE=LEDGER, IDEMPOTENCY_TABLE=IDEMPOTENCY, ALERT_TOPIC_ARN=TOPIC,
            GUARDRAIL_CONFIG=json.dumps(rules_data()), GUARDRAIL_ROLE_ARNS=GUARDRAIL_ROLE, GUARDRAIL_REGIONS=HOME,
        )
        programs = {k: (handler_child(k, False), floor_child(k)) for k in HANDLERS}
        for i in range(runs + 1):  # run 0: warm-up (caches, the world's first-time writes), not counted
            for k in HANDLERS:
                progress(f"cold: run {i}/{runs} {k}" + (" (warm-up)" if i == 0 else ""))
                env = {**base_env, "BENCH_EVENT": json.dumps(first_event(k, principals[i]))}
                order = [("boto3", BOTO3_CHILD), ("floor", programs[k][1]), ("handler", handler_child(k, True) if i == 0 else programs[k][0])]
                order = order[i % 3:] + order[: i % 3]  # rotate: no role always goes first
                for role, program in order:
                    data = _parse(run_child([sys.executable, "-c", program], env=env, cwd=str(ROOT), timeout=180), f"{k} {role}")
                    if role == "handler":
                        problem = _result_problem(k, data["result"])
                        if problem:
                            problems.append(problem)
                        if i == 0:
                            calls_made[k] = data.get("calls") or []
                    if i > 0:
                        samples[f"{k}/{role}"].append(data)
    progress_done()

    rows, targets = [], []
    for k in HANDLERS:
        handler, floor, boto3_runs = samples[f"{k}/handler"], samples[f"{k}/floor"], samples[f"{k}/boto3"]
        for stage in STAGES:
            h_ms = median(s["stages"][stage] for s in handler) * 1000
            f_ms = median(s["stages"][stage] for s in floor) * 1000
            b_ms = median(s["stages"]["import"] for s in boto3_runs) * 1000
            x_floor = median(h["stages"][stage] / f["stages"][stage] for h, f in zip(handler, floor))
            x_boto3 = median(h["stages"][stage] / b["stages"]["import"] for h, b in zip(handler, boto3_runs))
            rss = median(s["rss"][stage] for s in handler)
            rows.append((k, stage, round(h_ms, 1), round(f_ms, 1), round(x_floor, 2), round(b_ms, 1), round(x_boto3, 2), round(rss, 1)))
            if stage == "ready":
                targets.append(Target(f"{k}: ready <= 1.1x its floor", f"{x_floor:.2f}x ({h_ms:.0f} ms vs {f_ms:.0f} ms)", "1.10x", x_floor <= 1.1))
                targets.append(Target(f"{k}: peak RSS at ready <= 64 MiB", f"{rss:.1f} MiB", "64 MiB", rss <= 64))
            if stage == "first event":
                made = len(calls_made.get(k, []))
                targets.append(Target(
                    f"{k}: first event <= 1.25x floor + minimum calls", f"{x_floor:.2f}x ({h_ms:.0f} ms vs {f_ms:.0f} ms)", "1.25x", x_floor <= 1.25,
                    f"{made} calls made",
                ))
    result.tables.append(Table(
        f"medians of {runs} runs; ratios per run (paired), then the median",
        ("handler", "stage", "handler ms", "floor ms", "x floor", "import boto3 ms", "x boto3", "RSS MiB"),
        rows,
    ))
    calls_rows = []
    for k in HANDLERS:
        made = Counter(calls_made.get(k, []))
        calls_rows.append((k, sum(made.values()), MINIMUM[k][0], fmt_ops(made)))
    result.tables.append(Table("the first event's AWS calls (warm-up run) against the minimum the floor makes", ("handler", "calls", "minimum", "made, by operation"), calls_rows))
    result.targets = targets
    result.notes.append(
        "floor: a fresh botocore session and the clients the handler's events use ("
        + "; ".join(f"{k}: {', '.join(s for s, _ in CLIENTS[k])}" for k in HANDLERS)
        + "), then the minimum calls above, against the same local-aws endpoint"
    )
    result.notes.append("stages are cumulative, from the first line of the child (interpreter start-up excluded; the same prelude in every child)")
    for k in HANDLERS:
        result.notes.append(f"minimum calls, {k}: {MINIMUM[k][1]} ({MINIMUM[k][0]})")
    if problems:
        result.notes.append("UNEXPECTED handler answers (the stage may not measure a normal first event): " + " | ".join(sorted(set(problems))))
    result.data = {"runs": runs, "samples": samples, "calls_made": calls_made, "problems": problems}
    return result


def _options(parser: Any) -> None:
    parser.add_argument("--runs", type=int, help="fresh-process runs per case (default 7, --quick 2)")


if __name__ == "__main__":
    sys.exit(part_main(run, __doc__.splitlines()[0], extra=_options))
