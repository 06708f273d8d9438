"""`EksGuardrailIamForwarder-<account>` (us-east-1): IAM's CloudTrail events go to the home region's default bus.

IAM is global and its events reach EventBridge only in us-east-1. A rule with the shared
`iam_principal_pattern()` forwards them to the home region's default event bus, where the
home guardrail stack's IAM rule picks them up. Not created when the home region is us-east-1.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from eks_guardrail.config import Deployment
from eks_guardrail.patterns import iam_principal_pattern

from . import naming
from .constructs.alerting import AlertTopic
from .constructs.queues import dead_letter_queue
from .guardrail_stack import event_pattern


class IamForwarderStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        home_bus_arn = naming.default_bus_arn(self.account, deployment.home)

        self.dlq = dead_letter_queue(self, "ForwardDeadLetterQueue", "the IAM-event forwarding rule")
        self.role = iam.Role(
            self,
            "ForwardRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Lets EventBridge put IAM events on the {deployment.home} default bus",
        )
        # The EventBus target grants this role events:PutEvents on the home bus, and nothing else.
        self.rule = events.Rule(
            self,
            "IamPrincipalForwardRule",
            description=f"IAM role/user creations and deletions, forwarded to {deployment.home}; failed calls excluded",
            event_pattern=event_pattern(iam_principal_pattern()),
        )
        self.rule.add_target(
            targets.EventBus(
                events.EventBus.from_event_bus_arn(self, "HomeBus", home_bus_arn),
                dead_letter_queue=self.dlq,
                role=self.role,
            )
        )
        # The alarm must publish in its own region: a small topic here, same e-mail recipients.
        self.alerts = AlertTopic(self, "Alerts", emails=deployment.alert_emails)
        alarm = cloudwatch.Alarm(
            self,
            "ForwardDeadLetterQueueNotEmpty",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"eks-guardrail: IAM events could not be forwarded to {deployment.home}",
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alerts.topic))
