"""Part 4, the sweep at scale: N clusters x M entries, a fixed latency injected per call.

Each size runs in a fresh process on the emulator (`eks_guardrail.local.mock_aws`):
- the world: the demo account (tables, topic, the guardrail's role), M - 1 IAM roles, N clusters
  in API mode (made through the API), each with M entries: the protected Platform role holding
  cluster admin and M - 1 team roles holding AmazonEKSViewPolicy on their own namespace, all
  compliant with the rules (enforce mode, tests/world_helpers.enforce_rules). Entries are
  written to the emulator's backend directly (the API path would only slow the set-up); the
  sweep reads them through the real API;
- a warm-up sweep without latency (the steady state: the ledger and the sweep's memory filled,
  as after the first hourly run);
- the measured sweep: `SweepApp(settings, clients, account=..., max_workers=W).handle()`, its
  clients made on a session with the probe attached: `latency` slept per HTTP attempt, every
  call counted by operation, repeats (the same request twice in the run) flagged.

Reported: calls by operation, wall time, the bound calls x latency / W (W: the sweep's
concurrency) and wall / bound, calls / (clusters + entries), throttles answered when EKS is
throttled (`--throttle-eks RATE`: a token bucket of RATE requests a second, burst RATE, on the
guardrail's EKS client; adaptive retries must absorb it; by default one row of 2 x 200 at 20/s,
not with --quick).

Run alone: `python benchmarks/sweep_scale.py [--quick] [--sizes 10x200,50x200] [--latency 0.05]
[--workers W] [--throttle-eks RATE] [--json FILE]`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import ROOT, PartResult, Probe, Table, Target, fmt_ops, part_main, peak_rss_mib, progress_done, run_child, use_repo_paths  # noqa: E402

VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
FULL_SIZES = [(10, 200), (50, 200), (100, 200)]
QUICK_SIZES = [(2, 20)]
#: The throttled row (not with --quick): EKS answers ThrottlingException beyond this rate.
THROTTLED_SIZE, THROTTLE_RATE = (2, 200), 20.0
WALL_FACTOR = 1.3
EKS_OPERATIONS = {"ListClusters", "DescribeCluster", "ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies",
                  "CreateAccessEntry", "DeleteAccessEntry", "UpdateAccessEntry", "AssociateAccessPolicy", "DisassociateAccessPolicy",
                  "ListTagsForResource", "TagResource", "UntagResource"}
LIMIT_50 = 180.0


def _say(message: str) -> None:
    print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def worker(clusters: int, entries: int, latency: float, workers: int | None, throttle_eks: float | None, out: str) -> None:
    use_repo_paths()
    import boto3

    from eks_guardrail.clients import SWEEP_RETRIES, ClientFactory
    from eks_guardrail.demo.world import ACCOUNT, TRUST_POLICY, create_world
    from eks_guardrail.handlers import sweep_app
    from eks_guardrail.local import access_entry_backends, mock_aws
    from world_helpers import enforce_rules, make_cluster

    label = f"sweep {clusters}x{entries}"

    def clients_on(session: Any) -> Any:
        make = getattr(sweep_app, "sweep_clients", None)
        return make(session) if make else ClientFactory(session, config=SWEEP_RETRIES)

    def sweep(settings: Any, session: Any) -> Any:
        """The app as the handler builds it; `max_workers` only when asked (else the app's own default)."""
        extra = {"max_workers": workers} if workers else {}
        return sweep_app.SweepApp(settings, clients_on(session), account=ACCOUNT, **extra)

    with mock_aws():
        started = time.perf_counter()
        world = create_world()
        iam = world.platform.client("iam")
        roles = [f"arn:aws:iam::{ACCOUNT}:role/team-{i:03d}" for i in range(entries - 1)]
        for i in range(entries - 1):
            iam.create_role(RoleName=f"team-{i:03d}", AssumeRolePolicyDocument=TRUST_POLICY)
        backend = access_entry_backends[ACCOUNT][world.region]
        platform = world.role_arn("Platform")
        for c in range(clusters):
            _say(f"{label}: building cluster {c + 1}/{clusters}")
            name = f"c{c:03d}"
            make_cluster(world, name)
            backend.create_access_entry(name, platform)
            backend.associate_access_policy(name, platform, ADMIN, {"type": "cluster"})
            for i, arn in enumerate(roles):
                backend.create_access_entry(name, arn, kubernetes_groups=["team"])
                backend.associate_access_policy(name, arn, VIEW, {"type": "namespace", "namespaces": [f"team-{i:03d}"]})
        world.pending_events()
        built = time.perf_counter() - started
        settings = world.settings(enforce_rules())

        _say(f"{label}: warm-up sweep (no latency)")
        started = time.perf_counter()
        warm = sweep(settings, world.guardrail).handle()
        warm_seconds = time.perf_counter() - started
        world.alerts()

        credentials = world.guardrail.get_credentials()
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token, region_name=world.region,
        )
        probe = Probe(latency=latency, throttle={"eks": (throttle_eks, throttle_eks)} if throttle_eks else None)
        probe.attach(session)
        app = sweep(settings, session)
        workers = int(getattr(app, "max_workers", 0) or workers or 1)  # the concurrency the bound divides by
        done = threading.Event()

        def report() -> None:
            while not done.wait(2.0):
                seconds = time.perf_counter() - started
                _say(f"{label}: {probe.total():,} calls in {seconds:,.0f} s ({probe.total() / max(seconds, 1e-9):,.0f}/s)"
                     + (f", {sum(probe.throttled.values()):,} throttled" if throttle_eks else ""))

        threading.Thread(target=report, daemon=True).start()
        with probe.scope() as scope:
            started = time.perf_counter()
            summary = app.handle()
            wall = time.perf_counter() - started
        done.set()
        _say("")
    calls = probe.total()
    result = {
        "clusters": clusters, "entries_per_cluster": entries, "latency": latency, "workers": workers, "throttle_eks": throttle_eks,
        "wall": wall, "calls": calls, "attempts": sum(probe.attempts.values()), "throttled": sum(probe.throttled.values()),
        "by_operation": dict(probe.by_operation()), "repeats": dict(scope.repeats()),
        "bound": calls * latency / workers, "build_seconds": built, "warm_seconds": warm_seconds,
        "summary": {k: summary.get(k) for k in ("clusters", "entries", "findings", "alerted", "ledger_refreshed", "errors")},
        "warm_summary": {k: warm.get(k) for k in ("clusters", "entries", "findings", "errors")},
        "peak_rss_mib": peak_rss_mib(),
    }
    Path(out).write_text(json.dumps(result))


def measure(clusters: int, entries: int, latency: float, workers: int | None, throttle_eks: float | None, timeout: float | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        argv = [sys.executable, __file__, "--worker", str(clusters), str(entries), str(latency), str(workers or 0), str(throttle_eks or 0), out.name]
        child = run_child(argv, cwd=str(ROOT), timeout=timeout, stderr_through=True)
        progress_done()
        text = Path(out.name).read_text()
    if not text:
        return {"clusters": clusters, "entries_per_cluster": entries, "latency": latency, "throttle_eks": throttle_eks,
                "failed": f"exit {child.returncode}" + (" (timed out)" if timeout and child.seconds >= timeout else "")}
    return json.loads(text)


def run(
    quick: bool = False, sizes: str | None = None, latency: float = 0.05, workers: int | None = None,
    throttle_eks: float | None = None, timeout: float | None = None,
) -> PartResult:
    plan = [tuple(map(int, s.split("x"))) for s in sizes.split(",")] if sizes else (QUICK_SIZES if quick else FULL_SIZES)
    throttled_size = plan[0] if sizes else THROTTLED_SIZE
    throttle = throttle_eks if throttle_eks is not None else (None if sizes or quick else THROTTLE_RATE)
    result = PartResult("sweep", f"4. The sweep at scale ({latency * 1000:.0f} ms injected per call)", "python benchmarks/sweep_scale.py")
    runs = [measure(c, e, latency, workers, None, timeout) for c, e in plan]
    if throttle:
        runs.append(measure(*throttled_size, latency, workers, throttle, timeout))
    rows, ops_rows = [], []
    for r in runs:
        size = f"{r['clusters']} x {r['entries_per_cluster']}" + (f", EKS at {r['throttle_eks']:g}/s" if r.get("throttle_eks") else "")
        if "failed" in r:
            rows.append((size, None, None, None, None, None, None, None, None, r["failed"]))
            result.targets.append(Target(f"{size}: the sweep ran", r["failed"], "ran", False, "see the worker's error above"))
            continue
        units = r["clusters"] * (1 + r["entries_per_cluster"])
        if r.get("throttle_eks"):  # the bound is then also what the bucket lets through
            eks_calls = sum(n for op, n in r["by_operation"].items() if op in EKS_OPERATIONS)
            r["bound"] = max(r["bound"], eks_calls / r["throttle_eks"])
        ratio = r["wall"] / r["bound"] if r["bound"] else float("nan")
        problems = []
        if r["summary"]["errors"]:
            problems.append(f"{len(r['summary']['errors'])} sweep errors")
        if r["summary"]["findings"]:
            problems.append(f"{r['summary']['findings']} findings")
        rows.append((
            size, r["workers"], r["calls"], round(r["calls"] / units, 2), r["throttled"], round(r["wall"], 1), round(r["bound"], 1), round(ratio, 2),
            sum(r["repeats"].values()), "; ".join(problems),
        ))
        ops_rows.append((size, fmt_ops(r["by_operation"]), fmt_ops(r["repeats"]) if r["repeats"] else ""))
        if not r.get("throttle_eks"):
            result.targets.append(Target(
                f"{size}: wall <= {WALL_FACTOR}x calls x latency / concurrency", f"{ratio:.2f}x ({r['wall']:.0f} s vs {r['bound']:.0f} s)",
                f"{WALL_FACTOR}x", ratio <= WALL_FACTOR,
            ))
            if (r["clusters"], r["entries_per_cluster"]) == (50, 200):
                result.targets.append(Target("50 x 200 at 50 ms: under 3 minutes", f"{r['wall']:.0f} s", f"{LIMIT_50:.0f} s", r["wall"] < LIMIT_50 and latency >= 0.05))
            result.targets.append(Target(f"{size}: no call repeated within the sweep", f"{sum(r['repeats'].values())} extra calls", "0", not r["repeats"]))
    if not any((r["clusters"], r["entries_per_cluster"]) == (50, 200) for r in runs):
        result.targets.append(Target("50 x 200 at 50 ms: under 3 minutes", "not run", f"{LIMIT_50:.0f} s", None, "--quick or --sizes without 50x200"))
    result.tables.append(Table(
        "wall: the measured sweep; bound: calls x latency / concurrency; calls per unit: calls / (clusters + entries)",
        ("clusters x entries", "concurrency", "calls", "calls per unit", "throttled", "wall s", "bound s", "wall / bound", "repeated", ""),
        rows,
    ))
    result.tables.append(Table("calls by operation, and repeated requests (extra calls)", ("clusters x entries", "by operation", "repeated"), ops_rows))
    done = [r for r in runs if "failed" not in r]
    if done:
        result.notes.append("set-up, warm-up sweep (no latency, the emulator alone), peak RSS of the worker (emulator and world included): " + "; ".join(
            f"{r['clusters']}x{r['entries_per_cluster']}: {r['build_seconds']:.0f} s, {r['warm_seconds']:.0f} s, {r['peak_rss_mib']:.0f} MiB" for r in done
            if not r.get("throttle_eks")
        ))
    if throttle:
        result.notes.append(
            f"the throttled row: the guardrail's EKS client answered ThrottlingException (429) beyond {throttle:g} requests/s "
            f"(token bucket, burst {throttle:g}), absorbed by the sweep's adaptive retries; calls are API calls (retries not "
            f"included), throttled = throttles answered; its bound is the larger of calls x latency / concurrency and EKS calls / {throttle:g}"
        )
    result.data = {"runs": runs}
    return result


def _options(parser: Any) -> None:
    parser.add_argument("--sizes", help="e.g. 10x200,50x200 (default 10x200,50x200,100x200; --quick 2x20)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds injected per HTTP attempt (default 0.05)")
    parser.add_argument("--workers", type=int, help="the sweep's max_workers (default: what SweepApp chooses itself)")
    parser.add_argument("--throttle-eks", type=float, help="also run a size with EKS throttled at RATE requests/s (default: 2x200 at 20/s, or the first of --sizes; 0: off)")
    parser.add_argument("--timeout", type=float, help="give up a size after this many seconds")


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--worker":
        c, e, lat, w, thr, out = sys.argv[2:]
        worker(int(c), int(e), float(lat), int(w) or None, float(thr) or None, out)
        sys.exit(0)
    sys.exit(part_main(run, __doc__.splitlines()[0], extra=_options))
