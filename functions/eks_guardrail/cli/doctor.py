"""`eks-guardrail doctor`: does this account give the guardrail what it needs to see anything?

Read-only checks, each with how to fix what is missing: a CloudTrail trail recording
management events (EventBridge gets no CloudTrail events without one), each cluster's
authentication mode, the deployed EventBridge rules and their functions, the Slack secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from ..config import ConfigError, load_org_rules
from ..patterns import eks_access_pattern, iam_principal_pattern
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._account import AccountError, AccountReader

IAM_EVENTS_REGION = "us-east-1"

# botocore is imported by the functions that call AWS: building the parser (`--help`, `evaluate`) must not load it.


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check, read-only, that an account gives the guardrail what it needs",
        description=(
            "Checks a trail recording management events, each cluster's authentication mode, the deployed "
            "EventBridge rules and their Lambda functions, and the Slack secret; prints what is missing and how "
            "to fix it. Regions and the secret come from the config's deployment part unless given. "
            "Exit status: 0 all good, 1 something missing, 2 could not check."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules file whose deployment part names regions and the Slack secret")
    parser.add_argument("--regions", nargs="+", metavar="REGION", help="regions with clusters (default: deployment.regions, else the configured region)")
    parser.add_argument("--slack-secret", metavar="NAME", help="Secrets Manager secret with the Slack webhook (default: deployment.slack_secret_name)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    regions, secret, home = args.regions, args.slack_secret, None
    try:
        if args.config:
            deployment = load_org_rules(args.config).deployment
            if deployment:
                regions = regions or list(deployment.regions)
                secret = secret or deployment.slack_secret_name
                home = deployment.home
        reader = AccountReader(regions)
        reader.account()
    except (ConfigError, AccountError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    checks = diagnose(reader.clients.client, reader.regions, home or reader.regions[0], secret)
    for check in checks:
        print(f"{'OK     ' if check.ok else 'MISSING'} {check.what}")
        if not check.ok and check.fix:
            print(f"        fix: {check.fix}")
    missing = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - missing} OK, {missing} missing")
    return EXIT_FINDINGS if missing else EXIT_OK


def diagnose(client: Callable[[str, str], Any], regions: list[str], home: str, slack_secret: str | None) -> list[Check]:
    checks = [_trail(client, home)]
    for region in regions:
        checks += _clusters(client, region)
        checks.append(_rule(client, region, eks_access_pattern(), "EKS access-entry events"))
    checks.append(_rule(client, IAM_EVENTS_REGION, iam_principal_pattern(), "IAM principal events (us-east-1)"))
    if slack_secret:
        checks.append(_secret(client, home, slack_secret))
    return checks


def _trail(client: Callable[[str, str], Any], region: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    fix = "set deployment.create_trail: true and redeploy, or create a multi-region trail that records management (write) events"
    try:
        cloudtrail = client("cloudtrail", region)
        trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", [])
        for trail in trails:
            arn = trail.get("TrailARN") or trail["Name"]
            if not cloudtrail.get_trail_status(Name=arn).get("IsLogging"):
                continue
            if _records_management_writes(cloudtrail.get_event_selectors(TrailName=arn), custom=trail.get("HasCustomEventSelectors", True)):
                scope = "all regions" if trail.get("IsMultiRegionTrail") else f"region {trail.get('HomeRegion')}"
                return Check(True, f"trail {trail['Name']} records management events ({scope})")
        return Check(False, "no logging trail records management write events: EventBridge receives no CloudTrail events", fix)
    except (ClientError, BotoCoreError) as error:
        return Check(False, f"cannot read CloudTrail trails: {error}", "grant cloudtrail:DescribeTrails, GetTrailStatus, GetEventSelectors")


def _records_management_writes(selectors: dict[str, Any], *, custom: bool) -> bool:
    if not custom and not selectors.get("EventSelectors") and not selectors.get("AdvancedEventSelectors"):
        return True  # a trail's default selector records all management events
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True) and selector.get("ReadWriteType", "All") in ("All", "WriteOnly"):
            return True
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = {f["Field"]: f for f in selector.get("FieldSelectors", [])}
        if "Management" in (fields.get("eventCategory") or {}).get("Equals", []) and "true" not in (fields.get("readOnly") or {}).get("Equals", []):
            return True
    return False


def _clusters(client: Callable[[str, str], Any], region: str) -> list[Check]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        eks = client("eks", region)
        names = [n for page in eks.get_paginator("list_clusters").paginate() for n in page.get("clusters", [])]
        checks = []
        for name in names:
            mode = (eks.describe_cluster(name=name)["cluster"].get("accessConfig") or {}).get("authenticationMode", "CONFIG_MAP")
            if mode == "CONFIG_MAP":
                checks.append(Check(False, f"cluster {region}/{name} is in CONFIG_MAP mode: it has no access entries to guard",
                                    f"aws eks update-cluster-config --region {region} --name {name} --access-config authenticationMode=API_AND_CONFIG_MAP"))
            else:
                checks.append(Check(True, f"cluster {region}/{name} uses authentication mode {mode}"))
        return checks or [Check(True, f"no EKS clusters in {region} yet")]
    except (ClientError, BotoCoreError) as error:
        return [Check(False, f"cannot list EKS clusters in {region}: {error}", "grant eks:ListClusters and eks:DescribeCluster")]


def _same_pattern(deployed: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return (
        deployed.get("source") == wanted["source"]
        and sorted(deployed.get("detail", {}).get("eventName", [])) == sorted(wanted["detail"]["eventName"])
        and deployed.get("detail", {}).get("errorCode") == wanted["detail"]["errorCode"]
    )


def _rule(client: Callable[[str, str], Any], region: str, pattern: dict[str, Any], what: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    fix = "deploy the guardrail (cdk deploy --all) in this account and region"
    try:
        events = client("events", region)
        rules = [r for page in events.get_paginator("list_rules").paginate() for r in page.get("Rules", [])]
        for rule in rules:
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            if not _same_pattern(json.loads(rule["EventPattern"]), pattern):
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
            return _target(client, region, rule["Name"], targets, what)
        return Check(False, f"{region}: no enabled EventBridge rule for {what}", fix)
    except (ClientError, BotoCoreError) as error:
        return Check(False, f"{region}: cannot read EventBridge rules: {error}", "grant events:ListRules and events:ListTargetsByRule")


def _target(client: Callable[[str, str], Any], region: str, rule: str, targets: list[dict[str, Any]], what: str) -> Check:
    from botocore.exceptions import ClientError

    for target in targets:
        arn = target["Arn"]
        if ":event-bus/" in arn:
            return Check(True, f"{region}: rule {rule} forwards {what} to {arn}")
        if ":lambda:" in arn:
            try:
                state = client("lambda", region).get_function(FunctionName=arn)["Configuration"].get("State", "Active")
            except ClientError as error:
                return Check(False, f"{region}: rule {rule} targets {arn}, which cannot be read: {error}", "redeploy the guardrail stack")
            if state in ("Active", None):
                return Check(True, f"{region}: rule {rule} sends {what} to function {arn.rsplit(':', 1)[-1]}")
            return Check(False, f"{region}: function {arn} is {state}", "check the function in the Lambda console and redeploy")
    return Check(False, f"{region}: rule {rule} for {what} has no Lambda or event-bus target", "redeploy the guardrail stack")


def _secret(client: Callable[[str, str], Any], region: str, name: str) -> Check:
    from botocore.exceptions import ClientError

    try:
        secret = client("secretsmanager", region).describe_secret(SecretId=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return Check(False, f"Slack secret {name} does not exist in {region}",
                         f"aws secretsmanager create-secret --region {region} --name {name} --secret-string 'https://hooks.slack.com/services/...'")
        return Check(False, f"cannot read Slack secret {name}: {error}", "grant secretsmanager:DescribeSecret")
    if secret.get("DeletedDate"):
        return Check(False, f"Slack secret {name} is scheduled for deletion", f"aws secretsmanager restore-secret --secret-id {name}")
    return Check(True, f"Slack secret {name} exists in {region}")
