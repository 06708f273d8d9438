"""The handlers' environment, validated once, on the first invocation (never at import)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from ..config import ConfigError, OrgRules, org_rules_from_data


class SettingsError(ValueError):
    """The function's environment is incomplete or wrong; says which variable and how to fix it."""


@dataclass(frozen=True)
class HandlerSettings:
    org: OrgRules
    ledger_table: str
    idempotency_table: str | None
    alert_topic_arn: str | None
    slack_secret_name: str | None
    own_principals: tuple[str, ...]
    tracing: bool = False
    #: Regions whose clusters the IAM-principal handler and the sweep look at.
    regions: tuple[str, ...] = ()
    #: The sweep's queue: the scheduled run sends one message per cluster there (fan-out).
    sweep_queue_url: str | None = None
    #: How often SQS delivers a cluster's message before it goes to the dead-letter queue.
    sweep_max_receives: int = 3
    #: Threads of one sweep (one process, or one worker's cluster).
    sweep_threads: int = 8

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> "HandlerSettings":
        """Variables (set by the CDK stack):

        - `GUARDRAIL_CONFIG`: the validated org rules as JSON, or `GUARDRAIL_CONFIG_FILE`: a path to it;
        - `LEDGER_TABLE` (required), `IDEMPOTENCY_TABLE` (idempotency is off without it);
        - `ALERT_TOPIC_ARN`, `SLACK_SECRET_NAME` (each channel is off without it);
        - `GUARDRAIL_ROLE_ARNS`: comma-separated ARN patterns of the guardrail's own roles;
        - `GUARDRAIL_TRACING`: `true` to load the X-Ray SDK and trace;
        - `GUARDRAIL_REGIONS`: comma-separated regions with clusters (default: the function's `AWS_REGION`);
        - `SWEEP_QUEUE_URL`: the sweep fans out, one message per cluster (without it: one process);
        - `SWEEP_MAX_RECEIVES`: the sweep queue's maxReceiveCount (default 3);
        - `SWEEP_WORKER_THREADS`: threads of one sweep (default 8; the worker's is set by the stack).
        """
        ledger = env.get("LEDGER_TABLE", "").strip()
        if not ledger:
            raise SettingsError("LEDGER_TABLE is not set: the name of the DynamoDB ledger table")
        return cls(
            org=_org_rules(env),
            ledger_table=ledger,
            idempotency_table=env.get("IDEMPOTENCY_TABLE") or None,
            alert_topic_arn=env.get("ALERT_TOPIC_ARN") or None,
            slack_secret_name=env.get("SLACK_SECRET_NAME") or None,
            own_principals=tuple(p.strip() for p in env.get("GUARDRAIL_ROLE_ARNS", "").split(",") if p.strip()),
            tracing=env.get("GUARDRAIL_TRACING", "").lower() == "true",
            regions=_regions(env),
            sweep_queue_url=env.get("SWEEP_QUEUE_URL") or None,
            sweep_max_receives=_count(env, "SWEEP_MAX_RECEIVES", 3, 1, 1000),
            sweep_threads=_count(env, "SWEEP_WORKER_THREADS", 8, 1, 64),
        )


def _org_rules(env: Mapping[str, str]) -> OrgRules:
    if env.get("GUARDRAIL_CONFIG"):
        source, text = "GUARDRAIL_CONFIG", env["GUARDRAIL_CONFIG"]
    elif env.get("GUARDRAIL_CONFIG_FILE"):
        source = env["GUARDRAIL_CONFIG_FILE"]
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise SettingsError(f"GUARDRAIL_CONFIG_FILE {source}: cannot read: {error.strerror or error}") from None
    else:
        raise SettingsError("neither GUARDRAIL_CONFIG (org rules as JSON) nor GUARDRAIL_CONFIG_FILE is set")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source}: not valid JSON: {error.msg}") from None
    except (ValueError, RecursionError) as error:  # a number of thousands of digits, nesting thousands deep
        raise SettingsError(f"{source}: not usable JSON: {type(error).__name__}") from None
    try:
        return org_rules_from_data(data, source=source)
    except ConfigError as error:
        raise SettingsError(str(error)) from None


def _count(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise SettingsError(f"{name}={text!r}: expected a whole number from {low} to {high}")
    return int(text)


def _regions(env: Mapping[str, str]) -> tuple[str, ...]:
    listed = tuple(r.strip() for r in env.get("GUARDRAIL_REGIONS", "").split(",") if r.strip())
    if listed:
        return listed
    own = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    return (own,) if own else ()
