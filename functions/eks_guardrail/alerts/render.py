"""Pure rendering of one finding and what the guardrail did about it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..enforcement.enforcer import Outcome

STATUS_HEADLINE = {
    "alerted": "alert",
    "rolled-back": "rolled back",
    "already-undone": "nothing left to undo",
    "refused": "rollback REFUSED",
    "not-undone": "NOT undone",
    "failed": "rollback FAILED",
    "deferred": "rollback deferred",
}


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    text: str
    chatbot: dict[str, Any]
    slack: dict[str, Any]
    attributes: dict[str, str]


def console_url(region: str, cluster: str | None) -> str:
    if not cluster:
        return f"https://{region}.console.aws.amazon.com/eks/home?region={region}#/clusters"
    return f"https://{region}.console.aws.amazon.com/eks/home?region={region}#/clusters/{quote(cluster)}?selectedTab=cluster-access-tab"


def render(outcome: Outcome) -> AlertMessage:
    f = outcome.finding
    headline = STATUS_HEADLINE.get(outcome.status, outcome.status)
    where = f"{f.cluster or '(no cluster)'} ({f.account}, {f.region})"
    subject = f"[eks-guardrail] {f.severity.upper()} {f.rule} on {f.cluster or f.account}: {headline}"[:100]
    url = console_url(f.region, f.cluster)
    lines = [
        f.message,
        "",
        f"Rule:        {f.rule} (severity {f.severity}{', exempt' if f.exempt else ''})",
        f"What we did: {headline}: {outcome.detail}",
        f"Cluster:     {where}",
        f"Principal:   {f.principal_arn or '-'}",
        f"Changed by:  {f.actor_arn or '-'}",
        f"Event:       {f.event_name} {f.event_id} at {f.event_time}",
        f"Console:     {url}",
    ]
    text = "\n".join(lines)
    return AlertMessage(
        subject=subject,
        text=text,
        chatbot=_chatbot(f, headline, outcome.detail, url),
        slack=_slack(f, headline, outcome.detail, where, url),
        attributes={
            "rule": f.rule,
            "severity": f.severity,
            "action": outcome.status,
            "account": f.account,
            "cluster": f.cluster or "-",
        },
    )


def _chatbot(f, headline: str, detail: str, url: str) -> dict[str, Any]:
    """AWS Chatbot custom notification (version 1.0, source custom)."""
    return {
        "version": "1.0",
        "source": "custom",
        "id": f.event_id,
        "content": {
            "textType": "client-markdown",
            "title": f":rotating_light: {f.rule} on {f.cluster or f.account}: {headline}",
            "description": f"{f.message}\n*What we did:* {detail}",
            "nextSteps": [f"Review the cluster's access entries: {url}"],
            "keywords": [f.rule, f.severity, f.account],
        },
        "metadata": {
            "threadId": f"{f.account}/{f.region}/{f.cluster}",
            "summary": f"{f.rule}: {headline}",
            "eventType": f.event_name,
            "relatedResources": [r for r in (f.principal_arn, f.policy_arn) if r],
            "additionalContext": {"severity": f.severity, "actor": f.actor_arn, "event_id": f.event_id},
        },
    }


def _slack(f, headline: str, detail: str, where: str, url: str) -> dict[str, Any]:
    """Block Kit message for an incoming webhook."""
    fields = [
        ("Rule", f"`{f.rule}` ({f.severity})"),
        ("What we did", f"*{headline}*: {detail}"),
        ("Cluster", where),
        ("Changed by", f"`{f.actor_arn or '-'}`"),
        ("Principal", f"`{f.principal_arn or '-'}`"),
        ("Event", f"{f.event_name} `{f.event_id}`"),
    ]
    return {
        "text": f"eks-guardrail: {f.rule} on {f.cluster}: {headline}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{f.rule}: {headline}"[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f.message[:3000]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields]},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Cluster access in the console"}, "url": url}],
            },
        ],
    }


def sns_message(message: AlertMessage) -> str:
    """SNS `MessageStructure=json`: e-mail gets the text, everything else (Chatbot) the JSON."""
    return json.dumps({"default": json.dumps(message.chatbot), "email": message.text, "email-json": message.text})
