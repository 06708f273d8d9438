"""The EventBridge event patterns: the one place that says which events reach the guardrail.

The CDK stack deploys exactly these, and the demo routes the emulator's events through them.
Failed calls (`errorCode` present) changed nothing and are dropped by the pattern itself.
"""

from __future__ import annotations

from typing import Any

from .changes import CLOUDTRAIL_DETAIL_TYPE, EKS_EVENT_NAMES, IAM_EVENT_NAMES

# Access-entry and cluster-config calls arrive in the cluster's
# own region; IAM calls arrive only in us-east-1 and are forwarded to the home region.
def eks_access_pattern() -> dict[str, Any]:
    return _cloudtrail_pattern("aws.eks", "eks.amazonaws.com", EKS_EVENT_NAMES)


def iam_principal_pattern() -> dict[str, Any]:
    return _cloudtrail_pattern("aws.iam", "iam.amazonaws.com", IAM_EVENT_NAMES)


def _cloudtrail_pattern(source: str, event_source: str, event_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "source": [source],
        "detail-type": [CLOUDTRAIL_DETAIL_TYPE],
        "detail": {
            "eventSource": [event_source],
            "eventName": list(event_names),
            "errorCode": [{"exists": False}],
        },
    }


EVENT_PATTERNS: dict[str, Any] = {
    "eks-access-changes": eks_access_pattern(),
    "iam-principal-changes": iam_principal_pattern(),
}
