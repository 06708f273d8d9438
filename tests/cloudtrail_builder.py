"""Build CloudTrail records of EKS and IAM calls the way AWS writes them, checked against botocore.

Few real records of these calls are published (see tests/events/README.md), so tests build
the rest. Every builder validates its parameters against botocore's service model: a key
that is not a member of the operation's input (or output) shape fails the test, so the
records cannot drift into shapes AWS never produces. CloudTrail's own conventions:
- URI members are recorded under their location name (`clusterName` -> `name`);
- URI path parameters other than the cluster name are recorded URL-encoded;
- IAM (query protocol) members are recorded lowerCamelCase (`RoleName` -> `roleName`).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any
from urllib.parse import quote

import botocore.session

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "eu-west-1"
POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

_session = botocore.session.get_session()
_MODELS = {"eks": _session.get_service_model("eks"), "iam": _session.get_service_model("iam")}
_counter = itertools.count(1)


def iam_user_identity(name: str = "alice", account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSER00001",
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": name,
    }


def assumed_role_identity(role: str = "Developer", session: str = "bob", account: str = ACCOUNT, path: str = "/") -> dict[str, Any]:
    role_arn = f"arn:aws:iam::{account}:role{path}{role}"
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLE00001:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLEKEY000001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLE00001",
                "arn": role_arn,
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-28T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _recorded_parameters(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    shape = _MODELS[service].operation_model(operation).input_shape
    missing = set(shape.required_members) - set(params)
    if missing:
        raise AssertionError(f"{operation}: required member(s) {sorted(missing)} not given")
    recorded: dict[str, Any] = {}
    for name, value in params.items():
        if name not in shape.members:
            raise AssertionError(f"{operation}: {name!r} is not a member of {shape.name}")
        serialization = shape.members[name].serialization
        if service == "iam":
            recorded[name[0].lower() + name[1:]] = value
        elif serialization.get("location") == "uri":
            key = serialization.get("name", name)
            recorded[key] = value if key == "name" else quote(value, safe="")
        else:
            recorded[name] = value
    return recorded


def _check_response(service: str, operation: str, response: dict[str, Any] | None) -> None:
    if not response:
        return
    shape = _MODELS[service].operation_model(operation).output_shape
    for name in response:
        key = name[0].upper() + name[1:] if service == "iam" else name
        if shape is None or key not in shape.members:
            raise AssertionError(f"{operation}: response member {name!r} is not in its output shape")


def cloudtrail_record(
    service: str,
    operation: str,
    params: dict[str, Any],
    response: dict[str, Any] | None = None,
    *,
    identity: dict[str, Any] | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
    error_code: str | None = None,
    error_message: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A bare CloudTrail record (what EventBridge puts under `detail`)."""
    _check_response(service, operation, response)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity or iam_user_identity(account=account),
        "eventTime": f"2026-11-28T10:{next(_counter) % 60:02d}:00Z",
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": "us-east-1" if service == "iam" else region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "Boto3/1.43.11 md/Botocore#1.43.11",
        "requestParameters": _recorded_parameters(service, operation, params),
        "responseElements": None if error_code else response,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or "request failed"
    return record


def eventbridge(record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a record as EventBridge delivers it ("AWS API Call via CloudTrail")."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + record["eventSource"].split(".")[0],
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


# --- one builder per call, with the API's own parameter names -----------------------------


def role_arn(name: str = "Developer", account: str = ACCOUNT, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def user_arn(name: str = "alice", account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def create_access_entry(
    principal_arn: str,
    *,
    cluster: str = "prod",
    entry_type: str | None = None,
    username: str | None = None,
    groups: list[str] | None = None,
    tags: dict[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    params: dict[str, Any] = {"clusterName": cluster, "principalArn": principal_arn}
    if entry_type:
        params["type"] = entry_type
    if username is not None:
        params["username"] = username
    if groups is not None:
        params["kubernetesGroups"] = groups
    if tags is not None:
        params["tags"] = tags
    account = kwargs.get("account", ACCOUNT)
    entry = {
        "clusterName": cluster,
        "principalArn": principal_arn,
        "kubernetesGroups": groups or [],
        "accessEntryArn": f"arn:aws:eks:{REGION}:{account}:access-entry/{cluster}/role/{account}/x/0",
        "createdAt": "2026-11-28T10:00:00Z",
        "modifiedAt": "2026-11-28T10:00:00Z",
        "tags": tags or {},
        "username": username or principal_arn,
        "type": entry_type or "STANDARD",
    }
    return cloudtrail_record("eks", "CreateAccessEntry", params, {"accessEntry": entry}, **kwargs)


def update_access_entry(principal_arn: str, *, cluster: str = "prod", username: str | None = None, groups: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"clusterName": cluster, "principalArn": principal_arn}
    if username is not None:
        params["username"] = username
    if groups is not None:
        params["kubernetesGroups"] = groups
    return cloudtrail_record("eks", "UpdateAccessEntry", params, None, **kwargs)


def delete_access_entry(principal_arn: str, *, cluster: str = "prod", **kwargs: Any) -> dict[str, Any]:
    return cloudtrail_record("eks", "DeleteAccessEntry", {"clusterName": cluster, "principalArn": principal_arn}, None, **kwargs)


def associate_access_policy(
    principal_arn: str, policy: str, *, cluster: str = "prod", namespaces: list[str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "namespace", "namespaces": namespaces} if namespaces else {"type": "cluster"}
    params = {"clusterName": cluster, "principalArn": principal_arn, "policyArn": POLICY_PREFIX + policy, "accessScope": scope}
    return cloudtrail_record("eks", "AssociateAccessPolicy", params, None, **kwargs)


def disassociate_access_policy(principal_arn: str, policy: str, *, cluster: str = "prod", **kwargs: Any) -> dict[str, Any]:
    params = {"clusterName": cluster, "principalArn": principal_arn, "policyArn": POLICY_PREFIX + policy}
    return cloudtrail_record("eks", "DisassociateAccessPolicy", params, None, **kwargs)


def create_cluster(
    name: str = "prod", *, mode: str | None = None, bootstrap: bool | None = None, tags: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": name,
        "roleArn": role_arn("eks-cluster-role"),
        "resourcesVpcConfig": {"subnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]},
    }
    access_config: dict[str, Any] = {}
    if mode is not None:
        access_config["authenticationMode"] = mode
    if bootstrap is not None:
        access_config["bootstrapClusterCreatorAdminPermissions"] = bootstrap
    if access_config:
        params["accessConfig"] = access_config
    if tags:
        params["tags"] = tags
    return cloudtrail_record("eks", "CreateCluster", params, None, **kwargs)


def update_cluster_config(name: str = "prod", *, mode: str | None = None, **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if mode is not None:
        params["accessConfig"] = {"authenticationMode": mode}
    else:
        params["logging"] = {"clusterLogging": [{"types": ["audit"], "enabled": True}]}
    return cloudtrail_record("eks", "UpdateClusterConfig", params, None, **kwargs)


def delete_role(name: str, **kwargs: Any) -> dict[str, Any]:
    return cloudtrail_record("iam", "DeleteRole", {"RoleName": name}, None, **kwargs)


def delete_user(name: str, **kwargs: Any) -> dict[str, Any]:
    return cloudtrail_record("iam", "DeleteUser", {"UserName": name}, None, **kwargs)


def create_role(name: str, *, path: str = "/", **kwargs: Any) -> dict[str, Any]:
    account = kwargs.get("account", ACCOUNT)
    response = {
        "role": {
            "path": path,
            "roleName": name,
            "roleId": "AROAEXAMPLENEWROLE01",
            "arn": f"arn:aws:iam::{account}:role{path}{name}",
            "createDate": "Nov 28, 2026 10:00:00 AM",
        }
    }
    params = {"RoleName": name, "Path": path, "AssumeRolePolicyDocument": "{}"}
    return cloudtrail_record("iam", "CreateRole", params, response, **kwargs)


def cluster_arn(cluster: str = "prod", account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:eks:{region}:{account}:cluster/{cluster}"


def tag_resource(resource_arn: str, tags: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """`TagResource` on a cluster or access-entry ARN (recorded URL-encoded: a URI member)."""
    return cloudtrail_record("eks", "TagResource", {"resourceArn": resource_arn, "tags": tags}, None, **kwargs)


def untag_resource(resource_arn: str, tag_keys: list[str], **kwargs: Any) -> dict[str, Any]:
    """`UntagResource`; `tagKeys` is a query-string list, recorded as a list."""
    return cloudtrail_record("eks", "UntagResource", {"resourceArn": resource_arn, "tagKeys": tag_keys}, None, **kwargs)
