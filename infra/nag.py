"""cdk-nag v3 (AwsSolutions) on the whole app; every acknowledgement is made here or beside its construct, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_checks(app: App) -> None:
    """Attach the AwsSolutions checks: any unacknowledged finding fails `app.synth()` (ValidationFailed)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on `construct` (and what it contains), saying why it is acceptable."""
    if not reason or len(reason) < 20:
        raise ValueError(f"{rule_id}: an acknowledgement needs a real reason")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
