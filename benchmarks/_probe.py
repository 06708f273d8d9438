"""What every benchmark part shares: a probe at the botocore layer, and how parts report.

`Probe` attaches to a boto3 or botocore session (before its clients are made: a client copies
the session's event handlers when it is created) or to one client, and then:

- counts every API call by service and operation (`before-call`: once per call, whatever its
  retries), and every HTTP attempt (`before-send`: once per attempt);
- flags repeats: the same operation with the same request (URL, query and body) twice within
  one scope (`with probe.scope(): ...`, e.g. one event);
- injects latency: `latency` seconds slept in `before-send`, so every attempt (a retried one
  too) pays one round trip, as on AWS;
- injects throttling: a token bucket per service (`throttle={"eks": (rate, burst)}`); an
  attempt that finds the bucket empty is answered, from a `before-send` handler registered
  first, with the throttling error the service's protocol sends (rest-json: 429
  ThrottlingException; json: 400 ThrottlingException; query: 400 Throttling). botocore's
  parser and retry handler see a real throttle, so standard and adaptive retries must absorb
  it. `throttled` counts the throttles answered.

The emulator (`eks_guardrail.local.mock_aws`) answers from a `before-send` handler too, and
every `before-send` handler is called (the first answer wins): a throttled attempt's URL is
pointed away from it, so the rejected request is not carried out anyway. botocore makes a new
request for each retry, so the retry goes through.

The rest of this module: result records, tables, medians, child processes with their own peak
RSS, and the paths the parts need (the package, tests/ for the event builders).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TESTS = ROOT / "tests"

#: The error a throttled attempt gets, by protocol: (HTTP status, error code).
THROTTLE_ERRORS = {
    "rest-json": (429, "ThrottlingException"),
    "json": (400, "ThrottlingException"),
    "query": (400, "Throttling"),
    "rest-xml": (503, "SlowDown"),
    "ec2": (503, "RequestLimitExceeded"),
}
INJECTED_URL = "https://throttle-injected.invalid/"


def use_repo_paths() -> None:
    """tests/ (cloudtrail_builder, world_helpers) and benchmarks/ importable; the package itself is installed."""
    for path in (str(TESTS), str(BENCHMARKS)):
        if path not in sys.path:
            sys.path.insert(0, path)


# --- the probe --------------------------------------------------------------------------------


class TokenBucket:
    """`rate` tokens a second, at most `burst` held; `take()` is False when none is left."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self._tokens = self.burst
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass
class Scope:
    """The calls made between `begin` and `end`: (service, operation, request key) in order."""

    name: str = ""
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def by_operation(self) -> Counter:
        return Counter(op for _, op, _ in self.calls)

    def repeats(self) -> Counter:
        """Operation -> extra calls (a request made 3 times counts 2) among identical requests."""
        extra: Counter = Counter()
        for (_, op, _), n in Counter(self.calls).items():
            if n > 1:
                extra[op] += n - 1
        return extra


class Probe:
    def __init__(self, latency: float = 0.0, throttle: dict[str, tuple[float, float | None]] | None = None):
        self.latency = latency
        self.calls: Counter = Counter()  # (service, operation) -> API calls
        self.attempts: Counter = Counter()  # (service, operation) -> HTTP attempts, retries included
        self.throttled: Counter = Counter()  # (service, operation) -> throttles answered
        self._buckets = {service: TokenBucket(rate, burst) for service, (rate, burst) in (throttle or {}).items()}
        self._protocols: dict[str, str] = {}
        self._lock = threading.Lock()
        self._scope: Scope | None = None
        self._attached: list[tuple[Any, str, Any]] = []

    # attaching

    def attach(self, target: Any) -> Any:
        """A boto3 Session, a botocore Session or a client; returns it. Sessions: attach before
        making clients (each client copies the session's handlers when it is made)."""
        if hasattr(target, "meta") and hasattr(target.meta, "events"):
            events = target.meta.events  # a client
        elif hasattr(target, "events"):
            events = target.events  # boto3 Session
        else:
            events = target.get_component("event_emitter")  # botocore Session
        events.register_first("before-send", self._before_send)
        events.register("before-call", self._before_call)
        self._attached += [(events, "before-send", self._before_send), (events, "before-call", self._before_call)]
        return target

    def detach(self) -> None:
        for events, name, handler in self._attached:
            events.unregister(name, handler)
        self._attached.clear()

    # scopes

    def begin(self, name: str = "") -> Scope:
        with self._lock:
            self._scope = Scope(name)
            return self._scope

    def end(self) -> Scope:
        with self._lock:
            scope, self._scope = self._scope or Scope(), None
            return scope

    @contextmanager
    def scope(self, name: str = "") -> Iterator[Scope]:
        scope = self.begin(name)
        try:
            yield scope
        finally:
            self.end()

    # totals

    def total(self) -> int:
        return sum(self.calls.values())

    def by_operation(self) -> Counter:
        out: Counter = Counter()
        for (_, op), n in self.calls.items():
            out[op] += n
        return out

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.attempts.clear()
            self.throttled.clear()

    # handlers

    def _before_call(self, model: Any, params: Any, **_: Any) -> None:
        service = model.service_model.service_id.hyphenize()
        key = request_key(params)
        with self._lock:
            self._protocols[service] = model.service_model.protocol
            self.calls[(service, model.name)] += 1
            if self._scope is not None:
                self._scope.calls.append((service, model.name, key))

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> Any:
        _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        with self._lock:
            self.attempts[(service, operation)] += 1
        if self.latency:
            time.sleep(self.latency)
        bucket = self._buckets.get(service)
        if bucket is None or bucket.take():
            return None
        with self._lock:
            self.throttled[(service, operation)] += 1
        return throttle_response(request, self._protocols.get(service, "json"))


def request_key(params: Any) -> str:
    """What makes two calls the same request: method, URL (endpoint, path, query) and body."""
    if not isinstance(params, dict):
        return repr(params)
    body = params.get("body")
    if isinstance(body, dict):
        body = json.dumps(body, sort_keys=True, default=str)
    elif isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    query = params.get("query_string")
    if isinstance(query, dict):
        query = json.dumps(query, sort_keys=True, default=str)
    return f"{params.get('method', '')} {params.get('url') or params.get('url_path', '')} {query or ''} {body or ''}"


def throttle_response(request: Any, protocol: str) -> Any:
    from botocore.awsrequest import AWSResponse

    status, code = THROTTLE_ERRORS.get(protocol, (400, "ThrottlingException"))
    if protocol == "rest-json":
        headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/", "Content-Type": "application/json"}
        body = json.dumps({"message": "injected throttle"})
    elif protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        body = json.dumps({"__type": f"com.amazonaws.fault#{code}", "message": "injected throttle"})
    else:
        headers = {"Content-Type": "text/xml"}
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected throttle</Message>"
            "</Error><RequestId>throttle</RequestId></ErrorResponse>"
        )
    response = AWSResponse(request.url, status, headers, None)
    response._content = body.encode()
    request.url = INJECTED_URL  # the emulator's own before-send handler must not carry it out
    return response


# --- results -----------------------------------------------------------------------------------


@dataclass
class Target:
    """One target line: what is measured against what limit; ok None when it could not be measured."""

    name: str
    measured: str
    limit: str
    ok: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        return "PASS" if self.ok else ("MISS" if self.ok is False else "N/A")


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[Any]]


@dataclass
class PartResult:
    part: str
    title: str
    command: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "title": self.title,
            "command": self.command,
            "seconds": round(self.seconds, 1),
            "tables": [{"title": t.title, "headers": list(t.headers), "rows": [list(map(_plain, r)) for r in t.rows]} for t in self.tables],
            "targets": [{"target": t.name, "measured": t.measured, "limit": t.limit, "verdict": t.verdict, "note": t.note} for t in self.targets],
            "notes": self.notes,
            "data": self.data,
        }


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, type(None))) else str(value)


def render_table(table: Table) -> str:
    cells = [[str(h) for h in table.headers]] + [[_cell(v) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.headers))]
    numeric = [all(_is_number(r[i]) for r in table.rows) and table.rows for i in range(len(table.headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [table.title] if table.title else []
    out += [line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def render(result: PartResult) -> str:
    out = [f"== {result.title} ==", f"command: {result.command}"]
    for table in result.tables:
        out += ["", render_table(table)]
    if result.targets:
        out += ["", render_table(Table("targets", ("", "target", "measured", "limit", "note"), [
            (t.verdict, t.name, t.measured, t.limit, t.note) for t in result.targets
        ]))]
    if result.notes:
        out += [""] + [f"- {n}" for n in result.notes]
    return "\n".join(out)


def part_main(run: Any, description: str, argv: Sequence[str] | None = None, extra: Any = None) -> int:
    """A part run alone: `--quick`, `--json FILE`, plus the part's own options (`extra(parser)`)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("quick", "json")}
    started = time.perf_counter()
    result = run(quick=args.quick, **options)
    result.seconds = time.perf_counter() - started
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0


# --- measuring ---------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def progress_done(message: str = "") -> None:
    print(f"\r\033[K{message}", file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def peak_rss_mib() -> float:
    """This process's peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


# Linux carries a process's peak RSS across fork and exec: a child of this (large) process would
# report this process's peak as its own. A small launcher started fresh forks the measured child
# instead, times it from spawn to exit and reads its own peak (wait4).
_LAUNCHER = """
import json, os, signal, subprocess, sys, time
out, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
started = time.perf_counter()
child = subprocess.Popen(argv)
signal.signal(signal.SIGALRM, lambda *_: child.kill())
if timeout > 0:
    signal.setitimer(signal.ITIMER_REAL, timeout)
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - started
signal.setitimer(signal.ITIMER_REAL, 0)
with open(out, "w") as handle:
    json.dump([seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)], handle)
"""


def run_child(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None, timeout: float | None = None,
    stderr_through: bool = False,
) -> ChildRun:
    """Run `argv` to the end: wall time from spawn to exit, and the child's own peak RSS.
    `stderr_through`: the child's standard error goes to ours (its progress), not into `stderr`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        subprocess.run(
            [sys.executable, "-S", "-c", _LAUNCHER, report.name, str(timeout or 0), *argv],
            stdout=out, stderr=None if stderr_through else err, env=env, cwd=cwd, check=True,
        )
        seconds, peak, code = json.loads(Path(report.name).read_text())
        out.seek(0)
        err.seek(0)
        return ChildRun(seconds, peak, code, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def child_env(**extra: str) -> dict[str, str]:
    """The environment for measured children: no real AWS, fixed region, the repo's packages first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("POWERTOOLS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"})
    env.update(extra)
    return env


def fmt_ops(counter: Counter | dict[str, int]) -> str:
    """`DescribeAccessEntry 2, GetItem 3` (most first)."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} {n}" for op, n in items) if items else "-"
