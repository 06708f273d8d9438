"""Parsing CloudTrail records into typed changes: the public samples and records built from botocore's shapes."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

import cloudtrail_builder as ct
from eks_guardrail.changes import (
    AccessEntryCreated,
    AccessEntryDeleted,
    AccessEntryUpdated,
    AccessPolicyAssociated,
    AccessPolicyDisassociated,
    ClusterConfigUpdated,
    ClusterCreated,
    EventParseError,
    ACCESS_ENTRY_CHANGES,
    EKS_EVENT_NAMES,
    IamPrincipalCreated,
    IamPrincipalDeleted,
    ResourceTagged,
    ResourceUntagged,
    Skipped,
    check_actionable,
    parse_event,
)

EVENTS = Path(__file__).parent / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


# --- the public samples -------------------------------------------------------------------


def test_stratus_create_access_entry_sample():
    change = parse_event(sample("eks_CreateAccessEntry_stratus-red-team.json"))
    assert isinstance(change, AccessEntryCreated)
    assert change.cluster == "eks-cluster"
    assert change.principal_arn == "arn:aws:iam::012345678901:role/stratus-red-team-eks-create-access-entry-role"
    assert change.entry_type == "STANDARD"
    assert change.username is None and change.kubernetes_groups == ()


def test_stratus_associate_sample_decodes_the_url_encoded_principal():
    change = parse_event(sample("eks_AssociateAccessPolicy_stratus-red-team.json"))
    assert isinstance(change, AccessPolicyAssociated)
    assert change.principal_arn == "arn:aws:iam::012345678901:role/stratus-red-team-eks-create-access-entry-role"
    assert change.policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert change.scope.type == "cluster" and change.scope.namespaces == ()
    assert change.cluster == "eks-cluster"


def test_2018_create_cluster_sample_uses_cluster_name_and_api_defaults():
    change = parse_event(sample("eks_CreateCluster_aws-eks-userguide.json"))
    assert isinstance(change, ClusterCreated)
    assert change.cluster == "test"
    assert change.authentication_mode == "CONFIG_MAP"
    assert change.bootstrap_cluster_creator_admin is True
    assert change.access_config_defaulted is True
    assert change.meta.actor.arn == "arn:aws:iam::111122223333:user/username"
    assert change.meta.event_id == "eab22523-174a-499c-9dd6-91e7be3ff8e3"
    assert change.meta.account == "111122223333"


def test_iam_create_role_sample():
    change = parse_event(sample("iam_CreateRole_stratus-red-team.json"))
    assert isinstance(change, IamPrincipalCreated)
    assert (change.kind, change.name, change.path) == ("role", "stratus-red-team-malicious-iam-role", "/")
    assert change.arn == "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role"
    assert change.unique_id == "AROA53G8Z8NGXMJ597G3E"
    assert change.create_date == "Aug 1, 2024 1:37:41 PM"


def test_iam_create_user_sample():
    change = parse_event(sample("iam_CreateUser_elastic-integrations.json"))
    assert isinstance(change, IamPrincipalCreated)
    assert (change.kind, change.name, change.unique_id) == ("user", "Bob", "EXAMPLEUSERID")
    assert change.arn == "arn:aws:iam::123456789012:user/Bob"


def test_iam_delete_role_eventbridge_sample_carries_only_the_name():
    change = parse_event(sample("iam_DeleteRole_rust-fixture.eventbridge.json"))
    assert isinstance(change, IamPrincipalDeleted)
    assert (change.kind, change.name) == ("role", "practicum_test_role1")
    assert change.meta.event_id == "04856c00-ba33-4dc0-8030-9332c09464e3"
    assert change.meta.region == "us-east-1" and change.meta.account == "014824332634"
    # sessionContext without a sessionIssuer arn: the actor is the IAM user itself
    assert change.meta.actor.principal_arn == "arn:aws:iam::014824332634:user/thien"


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_parses_bare_and_wrapped_alike(name):
    data = sample(name)
    record = data["detail"] if "detail" in data else data
    bare, wrapped = parse_event(record), parse_event(ct.eventbridge({"recipientAccountId": "111122223333", "eventTime": "2024-01-01T00:00:00Z", "awsRegion": "eu-west-1", **record}))
    assert type(bare) is type(wrapped)
    assert not isinstance(bare, Skipped)


# --- records built from botocore's shapes -------------------------------------------------

PRINCIPAL = ct.role_arn("team/apps/Deployer", path="/")


@pytest.mark.parametrize("wrap", [False, True], ids=["bare", "eventbridge"])
def test_create_access_entry_with_everything(wrap):
    record = ct.create_access_entry(PRINCIPAL, username="deployer", groups=["dev"], tags={"owner": "team-a"})
    change = parse_event(ct.eventbridge(record) if wrap else record)
    assert isinstance(change, AccessEntryCreated)
    assert change.principal_arn == "arn:aws:iam::111122223333:role/team/apps/Deployer"
    assert change.username == "deployer"
    assert change.kubernetes_groups == ("dev",)
    assert change.tags == {"owner": "team-a"}
    assert change.meta.region == ct.REGION and change.meta.account == ct.ACCOUNT


def test_path_parameters_are_recorded_url_encoded_and_decoded_once():
    record = ct.update_access_entry(PRINCIPAL, groups=["viewers"])
    assert record["requestParameters"]["principalArn"] == "arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fteam%2Fapps%2FDeployer"
    change = parse_event(record)
    assert isinstance(change, AccessEntryUpdated)
    assert change.principal_arn == PRINCIPAL
    assert change.kubernetes_groups == ("viewers",) and change.username is None


def test_delete_and_disassociate():
    deleted = parse_event(ct.delete_access_entry(PRINCIPAL))
    assert isinstance(deleted, AccessEntryDeleted) and deleted.principal_arn == PRINCIPAL
    record = ct.disassociate_access_policy(PRINCIPAL, "AmazonEKSViewPolicy")
    assert record["requestParameters"]["policyArn"].startswith("arn%3Aaws%3Aeks")
    gone = parse_event(record)
    assert isinstance(gone, AccessPolicyDisassociated)
    assert gone.policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_associate_namespace_scope():
    change = parse_event(ct.associate_access_policy(PRINCIPAL, "AmazonEKSEditPolicy", namespaces=["dev-*", "web"]))
    assert isinstance(change, AccessPolicyAssociated)
    assert change.scope.type == "namespace" and change.scope.namespaces == ("dev-*", "web")


def test_create_cluster_with_access_config():
    change = parse_event(ct.create_cluster("c1", mode="API", bootstrap=False, tags={"guardrail": "exempt"}))
    assert isinstance(change, ClusterCreated)
    assert (change.authentication_mode, change.bootstrap_cluster_creator_admin, change.access_config_defaulted) == ("API", False, False)
    assert change.tags == {"guardrail": "exempt"}


def test_update_cluster_config_with_and_without_access_config():
    change = parse_event(ct.update_cluster_config("c1", mode="API_AND_CONFIG_MAP"))
    assert isinstance(change, ClusterConfigUpdated) and change.authentication_mode == "API_AND_CONFIG_MAP"
    logging_only = parse_event(ct.update_cluster_config("c1"))
    assert isinstance(logging_only, ClusterConfigUpdated) and logging_only.authentication_mode is None


def test_iam_delete_user_and_create_role_with_path():
    deleted = parse_event(ct.delete_user("alice"))
    assert isinstance(deleted, IamPrincipalDeleted) and (deleted.kind, deleted.name) == ("user", "alice")
    created = parse_event(ct.create_role("AWSReservedSSO_Admin_0123", path="/aws-reserved/sso.amazonaws.com/eu-west-1/"))
    assert isinstance(created, IamPrincipalCreated)
    assert created.path == "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    assert created.arn == "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123"


ENTRY_ARN = f"arn:aws:eks:{ct.REGION}:{ct.ACCOUNT}:access-entry/prod/role/{ct.ACCOUNT}/Deployer/0ac7b2e1-5f3a-4c1d-9e8f-123456789abc"


@pytest.mark.parametrize("resource", [ct.cluster_arn("prod"), ENTRY_ARN], ids=["cluster", "access-entry"])
def test_tag_resource_decodes_the_url_encoded_arn(resource):
    record = ct.tag_resource(resource, {"guardrail/exempt": "true", "team": ""}, identity=ct.assumed_role_identity("Platform", "ci"))
    assert record["requestParameters"]["resourceArn"].startswith("arn%3Aaws%3Aeks%3A")
    change = parse_event(ct.eventbridge(record))
    assert isinstance(change, ResourceTagged)
    assert change.resource_arn == resource
    assert change.tags == {"guardrail/exempt": "true", "team": ""}
    assert change.meta.event_name == "TagResource" and change.meta.actor.principal_arn == ct.role_arn("Platform")


def test_untag_resource_keeps_the_keys_in_order():
    change = parse_event(ct.untag_resource(ENTRY_ARN, ["guardrail/exempt", "team"]))
    assert isinstance(change, ResourceUntagged)
    assert change.resource_arn == ENTRY_ARN and change.tag_keys == ("guardrail/exempt", "team")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.tag_keys = ()  # type: ignore[misc]


def test_tag_events_reach_the_pattern_but_are_not_access_entry_changes():
    assert {"TagResource", "UntagResource"} <= set(EKS_EVENT_NAMES)
    assert not {ResourceTagged, ResourceUntagged} & set(ACCESS_ENTRY_CHANGES)


@pytest.mark.parametrize(
    "record, field",
    [
        (ct.tag_resource(ct.cluster_arn(), {"k": "v"}), "requestParameters.tags"),
        (ct.untag_resource(ct.cluster_arn(), ["k"]), "requestParameters.tagKeys"),
    ],
    ids=["tags", "tagKeys"],
)
def test_tag_events_check_their_members(record, field):
    member = field.split(".")[1]
    for bad in (None, "k", [1], {"k": 1} if member == "tags" else [""] * 0, {"": "v"} if member == "tags" else ["k"] * 51):
        broken = copy.deepcopy(record)
        broken["requestParameters"][member] = bad
        with pytest.raises(EventParseError) as raised:
            parse_event(broken)
        assert raised.value.field_path.startswith(field), (bad, raised.value)
    not_an_arn = copy.deepcopy(record)
    not_an_arn["requestParameters"]["resourceArn"] = "prod"
    with pytest.raises(EventParseError, match="requestParameters.resourceArn: expected an ARN"):
        parse_event(not_an_arn)


def test_times_are_normalised_to_utc_and_actionable_events_need_id_account_time_and_region():
    record = ct.delete_access_entry(PRINCIPAL)
    record["eventTime"] = "2024-08-01T15:37:41+02:00"
    change = parse_event(record)
    assert change.meta.event_time == "2024-08-01T13:37:41Z"
    check_actionable(change)
    for field, value in (("eventID", None), ("eventTime", None), ("awsRegion", "region-code")):
        partial = {**record, field: value}
        assert not isinstance(parse_event(partial), Skipped)  # `evaluate` judges redacted samples
        with pytest.raises(EventParseError, match=field):
            check_actionable(parse_event(partial))


def test_assumed_role_actor_is_its_session_issuer():
    record = ct.create_access_entry(PRINCIPAL, identity=ct.assumed_role_identity("Platform", "ci"))
    actor = parse_event(record).meta.actor
    assert actor.identity_type == "AssumedRole"
    assert actor.arn == "arn:aws:sts::111122223333:assumed-role/Platform/ci"
    assert actor.principal_arn == "arn:aws:iam::111122223333:role/Platform"


def test_changes_are_immutable():
    change = parse_event(ct.create_access_entry(PRINCIPAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.cluster = "other"  # type: ignore[misc]


# --- skipped and malformed ----------------------------------------------------------------


def test_failed_call_is_skipped_with_its_error():
    record = ct.create_access_entry(PRINCIPAL, error_code="ResourceInUseException", error_message="The specified access entry resource is already in use on this cluster.")
    result = parse_event(ct.eventbridge(record))
    assert isinstance(result, Skipped)
    assert "ResourceInUseException" in result.reason and "changed nothing" in result.reason
    assert result.event_id == record["eventID"]


def test_unsupported_event_is_skipped():
    record = ct.cloudtrail_record("eks", "DescribeAccessEntry", {"clusterName": "prod", "principalArn": PRINCIPAL})
    result = parse_event(record)
    assert isinstance(result, Skipped) and result.reason.startswith("unsupported event")


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r["requestParameters"].pop("name"), "detail.requestParameters.name"),
        (lambda r: r["requestParameters"].pop("principalArn"), "detail.requestParameters.principalArn"),
        (lambda r: r["requestParameters"].update(principalArn="Developer"), "detail.requestParameters.principalArn"),
        (lambda r: r["requestParameters"].update(kubernetesGroups="dev"), "detail.requestParameters.kubernetesGroups"),
        (lambda r: r.pop("eventName"), "detail.eventName"),
        (lambda r: r["userIdentity"].update(sessionContext={"sessionIssuer": "Role"}), "detail.userIdentity.sessionContext.sessionIssuer"),
        (lambda r: r["userIdentity"].update(arn=7), "detail.userIdentity.arn"),
        (lambda r: r["userIdentity"].update(accountId="1234"), "detail.userIdentity.accountId"),
        (lambda r: r["responseElements"]["accessEntry"].update(type=["STANDARD"]), "detail.responseElements.accessEntry.type"),
        (lambda r: r["responseElements"]["accessEntry"].update(username={"u": 1}), "detail.responseElements.accessEntry.username"),
        (lambda r: r["responseElements"].update(accessEntry="entry"), "detail.responseElements.accessEntry"),
        (lambda r: r.update(requestParameters="name=prod"), "detail.requestParameters"),
        (lambda r: r["requestParameters"].update(name="prod/../x"), "detail.requestParameters.name"),
        (lambda r: r["requestParameters"].update(kubernetesGroups=["dev", 3]), "detail.requestParameters.kubernetesGroups[1]"),
        (lambda r: r["requestParameters"].update(tags={"owner": 1}), "detail.requestParameters.tags.'owner'"),
        (lambda r: r.update(eventTime="yesterday"), "detail.eventTime"),
        (lambda r: r.update(eventTime="2024-08-01T13:37:41"), "detail.eventTime"),
        (lambda r: r.update(awsRegion="eu west 1"), "detail.awsRegion"),
        (lambda r: r.update(recipientAccountId=111122223333), "detail.recipientAccountId"),
        (lambda r: r.update(eventID={"id": 1}), "detail.eventID"),
        (lambda r: r.update(sourceIPAddress=["198.51.100.7"]), "detail.sourceIPAddress"),
    ],
)
def test_malformed_record_names_the_field(mutate, field):
    record = copy.deepcopy(ct.create_access_entry(PRINCIPAL, groups=["dev"]))
    mutate(record)
    with pytest.raises(EventParseError) as raised:
        parse_event(ct.eventbridge(record))
    assert raised.value.field_path == field
    assert str(raised.value.located("x.json[2]")).startswith(f"x.json[2]: {field}: ")


def test_wrong_detail_type_and_non_objects_are_errors():
    with pytest.raises(EventParseError, match="detail-type"):
        parse_event({**ct.eventbridge(ct.delete_role("r")), "detail-type": "Scheduled Event"})
    with pytest.raises(EventParseError, match="expected a JSON object"):
        parse_event(["not", "an", "event"])  # type: ignore[arg-type]


def test_builder_refuses_members_botocore_does_not_know():
    with pytest.raises(AssertionError, match="not a member"):
        ct.cloudtrail_record("eks", "CreateAccessEntry", {"clusterName": "c", "principalArn": PRINCIPAL, "accessScope": {}})
