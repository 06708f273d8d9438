"""Alert channels. One failing channel never blocks another, nor the rollback."""

from __future__ import annotations

import http.client
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .render import AlertMessage, sns_message

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    def send(self, message: AlertMessage) -> None: ...


@dataclass
class SnsChannel:
    #: Returns the SNS client; called on the first alert, so compliant events never pay for it.
    sns_client: Callable[[], Any]
    topic_arn: str
    name: str = "sns"

    def send(self, message: AlertMessage) -> None:
        self.sns_client().publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            Message=sns_message(message),
            MessageStructure="json",
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in message.attributes.items()},
        )


def post_json(url: str, body: dict[str, Any], timeout: float = 5.0) -> None:
    import urllib.request  # only Slack posts: not on every cold start

    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https webhook from config
        response.read()


def webhook_url_from_secret(secret: str) -> str:
    """The secret holds the URL itself or JSON with a `webhook_url` (or `url`) key.

    Anything else (not a string, JSON that is not an object, `{"webhook_url": 123}`, ...) is a
    `ValueError`: a channel failure like any other, counted, never blocking the rollback."""
    text = secret.strip() if isinstance(secret, str) else ""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        text = (data.get("webhook_url") or data.get("url") or "") if isinstance(data, dict) else ""
        if not isinstance(text, str):
            text = ""
    if not text.startswith(("https://", "http://")):
        raise ValueError("the Slack secret holds no webhook URL (expected the URL or JSON with 'webhook_url')")
    return text


@dataclass
class SlackChannel:
    #: Returns the secret's value (Powertools Parameters, cached); never logged.
    read_secret: Callable[[], str]
    post: Callable[[str, dict[str, Any]], None] = post_json
    name: str = "slack"

    def send(self, message: AlertMessage) -> None:
        self.post(webhook_url_from_secret(self.read_secret()), message.slack)


#: What a channel failure may look like; anything else is a bug and propagates.
#: http.client.HTTPException: a webhook answering a malformed status line or a truncated body.
CHANNEL_ERRORS = (ClientError, BotoCoreError, OSError, ValueError, http.client.HTTPException)


@dataclass
class Dispatcher:
    channels: list[Channel]
    on_failure: Callable[[str, Exception], None] = field(default=lambda name, error: None)

    def send(self, message: AlertMessage) -> list[str]:
        """Send to every channel; return the names of those that failed."""
        failed = []
        for channel in self.channels:
            try:
                channel.send(message)
            except CHANNEL_ERRORS as error:
                # The message names the channel and error type only: a webhook URL may be in str(error).
                log.error("alert channel %s failed: %s", channel.name, type(error).__name__)
                self.on_failure(channel.name, error)
                failed.append(channel.name)
        return failed
