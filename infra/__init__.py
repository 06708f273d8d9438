"""The CDK app that deploys the guardrail: one stack per account and region, plus an IAM-event forwarder per account."""
