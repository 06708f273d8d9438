"""The alert topic: KMS-encrypted, TLS only, e-mail subscriptions, optional AWS Chatbot Slack channel; or a central topic elsewhere."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from eks_guardrail.config import ChatbotSlack


class AlertTopic(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        emails: Sequence[str],
        chatbot_slack: ChatbotSlack | None = None,
        chatbot_name: str | None = None,
    ):
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="eks-guardrail alert topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch alarms publish to the encrypted topic: the AWS-managed SNS key would refuse them.
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", display_name="EKS guardrail alerts", master_key=self.key, enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        self.chatbot: chatbot.SlackChannelConfiguration | None = None
        if chatbot_slack is not None:
            self.chatbot = chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=chatbot_name or "eks-guardrail",
                slack_workspace_id=chatbot_slack.slack_workspace_id,
                slack_channel_id=chatbot_slack.slack_channel_id,
                notification_topics=[self.topic],
                logging_level=chatbot.LoggingLevel.ERROR,
                # Chatbot relays alerts; its channel role gets no policy, and the guardrail caps anything
                # granted later to reading CloudWatch (alarm graphs): no AWS changes from Slack.
                guardrail_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")],
            )

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.topic.grant_publish(grantee)


def grant_central_publish(role: iam.IRole, topic_arn: str, key_arn: str | None) -> None:
    """Publishing to a central topic in another account (`organization.central_alert_topic_arn`), and its key if it has one.

    The topic's own policy (and the key's) must allow it too: `sns:Publish` (`kms:GenerateDataKey`,
    `kms:Decrypt`) for principals of the organization (`aws:PrincipalOrgID`).
    """
    role.add_to_principal_policy(iam.PolicyStatement(sid="CentralAlerts", actions=["sns:Publish"], resources=[topic_arn]))
    if key_arn:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="CentralAlertsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key_arn])
        )
