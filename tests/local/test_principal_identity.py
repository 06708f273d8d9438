"""Conformance: an entry keeps the IAM principal's unique id (aws-facts A.0, B "Deleted &
recreated principal"); ``entry_authenticates`` is the ground truth for stale principals."""

from __future__ import annotations

from eks_guardrail.local import entry_authenticates

from .conftest import ACCOUNT, Aws


def test_role_recreated_no_longer_authenticates(aws: Aws, cluster: str) -> None:
    """aws-facts B: Deleted & recreated principal – a recreated role (new RoleId) doesn't match
    the stale entry, which is not deleted."""
    role = aws.create_role("app", path="/svc/")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    assert entry_authenticates(cluster, role["Arn"], aws.region)
    aws.iam.delete_role(RoleName="app")
    assert not entry_authenticates(cluster, role["Arn"], aws.region)
    again = aws.create_role("app", path="/svc/")
    assert again["Arn"] == role["Arn"] and again["RoleId"] != role["RoleId"]
    assert not entry_authenticates(cluster, role["Arn"], aws.region)
    # the entry itself is still there
    assert role["Arn"] in aws.eks.list_access_entries(clusterName=cluster)["accessEntries"]
    # deleting and recreating the entry fixes it
    aws.eks.delete_access_entry(clusterName=cluster, principalArn=role["Arn"])
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    assert entry_authenticates(cluster, role["Arn"], aws.region)


def test_user_recreated_no_longer_authenticates(aws: Aws, cluster: str) -> None:
    """aws-facts B: Deleted & recreated principal – same for an IAM user (new UserId)."""
    user = aws.create_user("bob")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=user["Arn"])
    assert entry_authenticates(cluster, user["Arn"], aws.region, ACCOUNT)
    aws.iam.delete_user(UserName="bob")
    aws.create_user("bob")
    assert not entry_authenticates(cluster, user["Arn"], aws.region, ACCOUNT)


def test_unknown_entry_and_root(aws: Aws, cluster: str) -> None:
    """aws-facts B: only an existing entry can authenticate; the creator (root) entry does."""
    assert not entry_authenticates(cluster, f"arn:aws:iam::{ACCOUNT}:role/nobody", aws.region)
    assert not entry_authenticates("other", f"arn:aws:iam::{ACCOUNT}:root", aws.region)
    assert entry_authenticates(cluster, f"arn:aws:iam::{ACCOUNT}:root", aws.region)


def test_cross_account_principal(aws: Aws, cluster: str) -> None:
    """aws-facts B: Cross-account – the other account's IAM decides (moto keeps one IAM per account)."""
    arn = "arn:aws:iam::210987654321:role/partner"
    aws.eks.create_access_entry(clusterName=cluster, principalArn=arn)
    assert not entry_authenticates(cluster, arn, aws.region)  # the role doesn't exist there
