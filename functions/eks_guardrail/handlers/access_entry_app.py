"""The access-entry guardrail wired together: enforcer, ledger, alert channels, metrics.

Built once per Lambda container, on the first event (never at import), from
`HandlerSettings`; tests and the demo build it with their own clients.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..adapters.eks import eks_access_for
from ..adapters.iam import IamPrincipals
from ..adapters.ledger import DeferredCreatorRemovals, DynamoDbLedger, ExemptionTagGrants, PendingDecisions
from ..alerts.channels import post_json
from ..changes import EventParseError, check_actionable, event_id_of, Skipped, parse_event
from ..clients import ClientFactory
from ..enforcement.enforcer import Enforcer
from ..enforcement.exemption_tags import TagGuard
from .reporting import NAMESPACE, Reporter, reject
from .settings import HandlerSettings

log = logging.getLogger(__name__)
__all__ = ["NAMESPACE", "AccessEntryApp"]


class AccessEntryApp:
    def __init__(
        self,
        settings: HandlerSettings,
        clients: ClientFactory,
        *,
        metrics: Any = None,
        slack_post: Callable[[str, dict[str, Any]], None] = post_json,
    ):
        self.settings = settings
        self.clients = clients
        self.enforcer = Enforcer(
            org=settings.org,
            eks_for_region=eks_access_for(clients),
            ledger=DynamoDbLedger(clients.client("dynamodb"), settings.ledger_table),
            own_principals=settings.own_principals,
            deferred_removals=lambda account: DeferredCreatorRemovals(clients.client("dynamodb"), settings.ledger_table, account),
            pending=PendingDecisions(clients.client("dynamodb"), settings.ledger_table),
            tags=TagGuard(settings.org, ExemptionTagGrants(clients.client("dynamodb"), settings.ledger_table)),
            principal_trust=lambda account, arn: IamPrincipals(clients.client("iam"), account).trusted_services(arn),
        )
        self.reporter = Reporter(settings, clients, metrics=metrics, slack_post=slack_post)
        self._handle_once: Callable[..., dict[str, Any]] | None = None  # built on the first event to act on

    def handle(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Handle one EventBridge event; raises when a rollback failed (Lambda retries it)."""
        try:
            outcome = parse_event(event)
            if not isinstance(outcome, Skipped):
                check_actionable(outcome)
        except EventParseError as error:
            # malformed: a clean, bounded result (logged, counted), never an exception that
            # Lambda would retry in vain; anything else unexpected still propagates
            return {**reject(error, self.reporter), "event_id": event_id_of(event)}
        if isinstance(outcome, Skipped):
            log.info("skipped %s %s: %s", outcome.event_name, outcome.event_id, outcome.reason)
            return {"event_id": outcome.event_id, "status": "skipped", "reason": outcome.reason}
        own = self.enforcer.skip_reason(outcome)
        if own:  # before idempotency: the guardrail's own changes cost no AWS call at all
            log.info("skipped %s %s: %s", outcome.meta.event_name, outcome.meta.event_id, own)
            return {"event_id": outcome.meta.event_id, "status": "skipped", "reason": own}
        if self._handle_once is None:
            # Powertools idempotency (and the boto3 it imports) only once an event needs it:
            # malformed, unwatched and the guardrail's own events never do.
            self._handle_once = self._idempotent(self.clients) if self.settings.idempotency_table else self._handle
        if lambda_context is not None and hasattr(self, "_idempotency_config"):
            self._idempotency_config.register_lambda_context(lambda_context)
        return self._handle_once(event=event)

    # --- the work, done once per CloudTrail event id ---------------------------------------

    def _handle(self, event: dict[str, Any]) -> dict[str, Any]:
        change = parse_event(event)
        assert not isinstance(change, Skipped)
        report = self.enforcer.handle(change)
        if report.skipped_reason:
            log.info("skipped %s %s: %s", change.meta.event_name, change.meta.event_id, report.skipped_reason)
            return {"event_id": change.meta.event_id, "status": "skipped", "reason": report.skipped_reason}
        failed_channels = self.reporter.report(report.outcomes)
        summary = {
            "event_id": change.meta.event_id,
            "status": "evaluated",
            "findings": len(report.findings),
            "outcomes": [{"rule": o.finding.rule, "status": o.status, "detail": o.detail} for o in report.outcomes],
            "alert_failures": failed_channels,
        }
        log.info("evaluated %s %s", change.meta.event_name, change.meta.event_id, extra={"summary": summary})
        if report.error is not None:
            raise report.error
        return summary

    # --- wiring -----------------------------------------------------------------------------

    def _idempotent(self, clients: ClientFactory) -> Callable[..., dict[str, Any]]:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._idempotency_config = IdempotencyConfig(
            event_key_jmespath='detail.eventID || id || eventID',
            raise_on_no_idempotency_key=True,
            expires_after_seconds=7 * 24 * 3600,
        )
        store = DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto3_client=clients.client("dynamodb"))
        return idempotent_function(data_keyword_argument="event", persistence_store=store, config=self._idempotency_config)(self._handle)
