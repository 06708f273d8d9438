"""HTTP handlers of the access-entry operations and CloudTrail's LookupEvents, and the patches
that plug them into moto.

moto routes an EKS request by URL pattern (``moto.eks.urls.url_paths``) to
``EKSResponse.dispatch``, which picks the operation from the botocore model and calls the
``EKSResponse`` method of that name. :func:`install` adds the patterns and methods, overrides
the cluster calls that carry ``accessConfig``, and wraps ``call_action`` of EKS and IAM so that
every call yields its CloudTrail record; it also makes EventBridge behave as AWS does where
moto differs (targets receive the envelope's ``account``; DISABLED rules deliver nothing).
moto's CloudTrail (trails) has no LookupEvents; :func:`install` adds it to ``CloudTrailResponse``,
answered from the Event history (:mod:`.history`). :func:`uninstall` puts moto back as it was.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs

from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import get_service_model
from moto.eks import urls as eks_urls
from moto.eks.responses import EKSResponse
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.iam.responses import IamResponse

from . import cloudtrail, history
from .backend import AccessEntryBackend, access_entry_backends, invalid_parameter, now

log = logging.getLogger(__name__)

URL_PATHS: dict[str, Callable[..., Any]] = {
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": EKSResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>[^/]+)$": EKSResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>[^/]+)/access-policies$": EKSResponse.dispatch,
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>[^/]+)/access-policies/(?P<policyArn>[^/]+)$": EKSResponse.dispatch,
    "{0}/access-policies$": EKSResponse.dispatch,
}

IAM_RECORDED = ("CreateRole", "DeleteRole", "CreateUser", "DeleteUser")
#: what the patched names resolved to before install, "Class.name" -> object (used by the wrappers)
_ORIGINALS: dict[str, Any] = {}


# -- helpers bound to an EKSResponse --------------------------------------------------------------
def _backend(self: EKSResponse) -> AccessEntryBackend:
    return access_entry_backends[self.current_account][self.region]


def _body(self: Any) -> dict[str, Any]:
    raw = self.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _query_values(self: Any, key: str) -> list[str]:
    return parse_qs(self.parsed_url.query, keep_blank_values=True).get(key, [])


def _query(self: Any, key: str) -> str | None:
    values = _query_values(self, key)
    return values[0] if values else None


def _uri(self: Any, key: str) -> str:
    value = (self.uri_match or {}).get(key)
    return value if value is not None else self._get_param(key)


def _max_results(self: Any) -> int | None:
    value = _query(self, "maxResults")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise invalid_parameter("maxResults must be an integer.") from exc  # (not published by AWS)


# -- the nine operations ----------------------------------------------------------------------------
def create_access_entry(self: EKSResponse) -> ActionResult:
    body = _body(self)
    entry = _backend(self).create_access_entry(
        name=_uri(self, "name"),
        principal_arn=body.get("principalArn", ""),
        kubernetes_groups=body.get("kubernetesGroups"),
        tags=body.get("tags"),
        username=body.get("username"),
        entry_type=body.get("type"),
    )
    return ActionResult({"accessEntry": entry.to_dict()})


def describe_access_entry(self: EKSResponse) -> ActionResult:
    entry = _backend(self).describe_access_entry(_uri(self, "name"), _uri(self, "principalArn"))
    return ActionResult({"accessEntry": entry.to_dict()})


def update_access_entry(self: EKSResponse) -> ActionResult:
    body = _body(self)
    entry = _backend(self).update_access_entry(
        _uri(self, "name"),
        _uri(self, "principalArn"),
        kubernetes_groups=body.get("kubernetesGroups"),
        username=body.get("username"),
    )
    return ActionResult({"accessEntry": entry.to_dict()})


def delete_access_entry(self: EKSResponse) -> ActionResult:
    _backend(self).delete_access_entry(_uri(self, "name"), _uri(self, "principalArn"))
    return EmptyResult()


def list_access_entries(self: EKSResponse) -> ActionResult:
    arns, token = _backend(self).list_access_entries(
        _uri(self, "name"),
        associated_policy_arn=_query(self, "associatedPolicyArn"),
        max_results=_max_results(self),
        next_token=_query(self, "nextToken"),
    )
    result: dict[str, Any] = {"accessEntries": arns}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def associate_access_policy(self: EKSResponse) -> ActionResult:
    body = _body(self)
    name, principal = _uri(self, "name"), _uri(self, "principalArn")
    assoc = _backend(self).associate_access_policy(
        name, principal, body.get("policyArn", ""), body.get("accessScope") or {}
    )
    return ActionResult(
        {"clusterName": name, "principalArn": principal, "associatedAccessPolicy": assoc.to_dict()}
    )


def disassociate_access_policy(self: EKSResponse) -> ActionResult:
    _backend(self).disassociate_access_policy(
        _uri(self, "name"), _uri(self, "principalArn"), _uri(self, "policyArn")
    )
    return EmptyResult()


def list_associated_access_policies(self: EKSResponse) -> ActionResult:
    name, principal = _uri(self, "name"), _uri(self, "principalArn")
    assocs, token = _backend(self).list_associated_access_policies(
        name, principal, _max_results(self), _query(self, "nextToken")
    )
    result: dict[str, Any] = {
        "clusterName": name,
        "principalArn": principal,
        "associatedAccessPolicies": [a.to_dict() for a in assocs],
    }
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def list_access_policies(self: EKSResponse) -> ActionResult:
    policies, token = AccessEntryBackend.list_access_policies(
        _max_results(self), _query(self, "nextToken")
    )
    result: dict[str, Any] = {"accessPolicies": policies}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


# -- cluster calls that carry accessConfig ----------------------------------------------------------
def create_cluster(self: EKSResponse) -> ActionResult:
    body = _body(self)
    name = body.get("name")
    config = AccessEntryBackend.validate_create_access_config(body.get("accessConfig"), name)
    result = _ORIGINALS["EKSResponse.create_cluster"](self)
    cluster = self.eks_backend.clusters[name]
    caller = cloudtrail.user_identity(self.access_key, self.current_account)
    _backend(self).cluster_created(cluster, config, cloudtrail.principal_arn_of(caller))
    return result


_OTHER_UPDATE_KEYS = {
    "resourcesVpcConfig": "EndpointAccessUpdate",
    "logging": "LoggingUpdate",
    "kubernetesNetworkConfig": "ConfigUpdate",
    "remoteNetworkConfig": "ConfigUpdate",
}


def update_cluster_config(self: EKSResponse) -> ActionResult:
    body = _body(self)
    name = _uri(self, "name")
    others = [key for key in _OTHER_UPDATE_KEYS if body.get(key) is not None]
    if body.get("accessConfig") is not None:
        if others:
            # AWS applies one kind of update per call. (not published by AWS)
            raise invalid_parameter(
                "Only one type of update can be allowed per UpdateClusterConfig call.", name
            )
        update = _backend(self).update_access_config(name, body["accessConfig"])
        return ActionResult({"update": update})
    self.eks_backend.update_cluster_config(
        name=name,
        resources_vpc_config=body.get("resourcesVpcConfig"),
        logging=body.get("logging"),
        client_request_token=body.get("clientRequestToken"),
        kubernetes_network_config=body.get("kubernetesNetworkConfig"),
        remote_network_config=body.get("remoteNetworkConfig"),
    )
    update_type = _OTHER_UPDATE_KEYS[others[0]] if others else "ConfigUpdate"
    return ActionResult(
        {
            "update": {
                "id": str(uuid.uuid4()),
                "status": "Successful",
                "type": update_type,
                "params": [],
                "createdAt": now(),
                "errors": [],
            }
        }
    )


def delete_cluster(self: EKSResponse) -> ActionResult:
    result = _ORIGINALS["EKSResponse.delete_cluster"](self)
    _backend(self).cluster_deleted(_uri(self, "name"))
    return result


def _is_entry_arn(arn: str) -> bool:
    return ":access-entry/" in arn


def tag_resource(self: EKSResponse) -> ActionResult:
    arn = self._extract_arn_from_path()
    if not _is_entry_arn(arn):
        return _ORIGINALS["EKSResponse.tag_resource"](self)
    _backend(self).tag_entry(arn, _body(self).get("tags") or {})
    return EmptyResult()


def untag_resource(self: EKSResponse) -> ActionResult:
    arn = self._extract_arn_from_path()
    keys = _query_values(self, "tagKeys")
    if not _is_entry_arn(arn):
        # moto's own handler passes only the first of several tagKeys on to its backend
        self.eks_backend.untag_resource(arn, keys)
        return EmptyResult()
    _backend(self).untag_entry(arn, keys)
    return EmptyResult()


def list_tags_for_resource(self: EKSResponse) -> ActionResult:
    arn = self._extract_arn_from_path()
    if not _is_entry_arn(arn):
        return _ORIGINALS["EKSResponse.list_tags_for_resource"](self)
    return ActionResult({"tags": dict(_backend(self).entry_by_arn(arn).tags)})


# -- CloudTrail hooks -----------------------------------------------------------------------------
def _source_ip(self: Any) -> str:
    request = getattr(self, "normalized_request", None)
    addr = getattr(request, "remote_addr", None) if request is not None else None
    return addr or "127.0.0.1"


def _user_agent(self: Any) -> str:
    return str(self.headers.get("User-Agent", "") or "")


def _response_elements(status: int, body: Any) -> Any:
    if status >= 400 or not body:
        return None
    try:
        data = json.loads(body.decode() if isinstance(body, bytes) else body)
    except ValueError:
        return None
    return data or None


def eks_call_action(self: EKSResponse) -> Any:
    status, headers, body = _ORIGINALS["EKSResponse.call_action"](self)
    try:
        operation = self._get_action()
        if operation:
            request_id = str(uuid.uuid4())
            headers["x-amzn-requestid"] = request_id
            _record_eks(self, operation, int(status), headers, body, request_id)
    except Exception:  # recording must never break the emulated call
        log.warning("could not record the CloudTrail event", exc_info=True)
    return status, headers, body


def _record_eks(self: EKSResponse, operation: str, status: int, headers: Any, body: Any, request_id: str) -> None:
    operation_model = get_service_model("eks").operation_model(operation)
    query = parse_qs(self.parsed_url.query, keep_blank_values=True)
    params = cloudtrail.eks_request_parameters(operation_model, self.uri_match or {}, query, _body(self))
    error_code = error_message = None
    if status >= 400:
        error_code, error_message = cloudtrail.error_from_response(headers, body)
    record = cloudtrail.build_record(
        event_source="eks.amazonaws.com",
        event_name=operation,
        region=self.region,
        account_id=self.current_account,
        identity=cloudtrail.user_identity(self.access_key, self.current_account),
        request_parameters=params or None,
        response_elements=_response_elements(status, body),
        request_id=request_id,
        source_ip=_source_ip(self),
        user_agent=_user_agent(self),
        error_code=error_code,
        error_message=error_message,
    )
    cloudtrail.publish(record, self.region)


def iam_call_action(self: IamResponse) -> Any:
    status, headers, body = _ORIGINALS["IamResponse.call_action"](self)
    try:
        operation = self._get_action()
        if operation in IAM_RECORDED:
            # IAM request ids are UUIDs (moto makes 52-character ones); keep body and header in step
            request_id = str(uuid.uuid4())
            old_id = headers.get("x-amzn-requestid")
            headers["x-amzn-requestid"] = request_id
            if old_id and isinstance(body, str):
                body = body.replace(f"<RequestId>{old_id}</RequestId>", f"<RequestId>{request_id}</RequestId>")
            _record_iam(self, operation, int(status), headers, body)
    except Exception:
        log.warning("could not record the CloudTrail event", exc_info=True)
    return status, headers, body


def _iam_response_elements(self: IamResponse, operation: str, params: dict[str, Any]) -> Any:
    from urllib.parse import quote

    if operation == "CreateRole":
        role = self.backend.get_role(params["RoleName"])
        out: dict[str, Any] = {
            "path": role.path,
            "roleName": role.name,
            "roleId": role.id,
            "arn": role.arn,
            "createDate": cloudtrail.iam_date(role.create_date),
            "assumeRolePolicyDocument": quote(role.assume_role_policy_document or "", safe=""),
        }
        if getattr(role, "permissions_boundary", None):
            out["permissionsBoundary"] = {
                "permissionsBoundaryArn": role.permissions_boundary,
                "permissionsBoundaryType": "Policy",
            }
        if role.description:
            out["description"] = role.description
        tags = params.get("Tags")
        if tags:
            out["tags"] = [{"key": t.get("Key"), "value": t.get("Value")} for t in tags]
        return {"role": out}
    if operation == "CreateUser":
        user = self.backend.get_user(params["UserName"])
        out = {
            "path": user.path,
            "userName": user.name,
            "userId": user.id,
            "arn": user.arn,
            "createDate": cloudtrail.iam_date(user.create_date),
        }
        tags = params.get("Tags")
        if tags:
            out["tags"] = [{"key": t.get("Key"), "value": t.get("Value")} for t in tags]
        return {"user": out}
    return None


def _record_iam(self: IamResponse, operation: str, status: int, headers: Any, body: Any) -> None:
    params = dict(getattr(self, "params", {}) or {})
    params.pop("Action", None)
    params.pop("Version", None)
    error_code = error_message = None
    response_elements = None
    if status >= 400:
        error_code, error_message = cloudtrail.error_from_response(headers, body)
    else:
        response_elements = _iam_response_elements(self, operation, params)
    request_id = str(headers.get("x-amzn-requestid") or "")
    record = cloudtrail.build_record(
        event_source="iam.amazonaws.com",
        event_name=operation,
        region=cloudtrail.IAM_EVENT_REGION,
        account_id=self.current_account,
        identity=cloudtrail.user_identity(self.access_key, self.current_account),
        request_parameters=cloudtrail.iam_request_parameters(params),
        response_elements=response_elements,
        request_id=request_id or str(uuid.uuid4()),
        source_ip=_source_ip(self),
        user_agent=_user_agent(self),
        error_code=error_code,
        error_message=error_message,
    )
    cloudtrail.publish(record, cloudtrail.IAM_EVENT_REGION)


# -- CloudTrail LookupEvents ------------------------------------------------------------------------
def lookup_events(self: CloudTrailResponse) -> ActionResult:
    return ActionResult(
        history.lookup_events(
            self.current_account,
            self.region,
            lookup_attributes=self._get_param("LookupAttributes"),
            start_time=self._get_param("StartTime"),
            end_time=self._get_param("EndTime"),
            event_category=self._get_param("EventCategory"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
    )


def rule_send_to_targets(self: Rule, *args: Any, **kwargs: Any) -> None:
    """moto delivers to the targets of DISABLED rules too; AWS does not."""
    if self.state == "DISABLED":
        return
    _ORIGINALS["Rule.send_to_targets"](self, *args, **kwargs)


# -- install / uninstall ----------------------------------------------------------------------------
_EKS_METHODS: dict[str, Callable[..., Any]] = {
    "create_access_entry": create_access_entry,
    "describe_access_entry": describe_access_entry,
    "update_access_entry": update_access_entry,
    "delete_access_entry": delete_access_entry,
    "list_access_entries": list_access_entries,
    "associate_access_policy": associate_access_policy,
    "disassociate_access_policy": disassociate_access_policy,
    "list_associated_access_policies": list_associated_access_policies,
    "list_access_policies": list_access_policies,
    "create_cluster": create_cluster,
    "update_cluster_config": update_cluster_config,
    "delete_cluster": delete_cluster,
    "tag_resource": tag_resource,
    "untag_resource": untag_resource,
    "list_tags_for_resource": list_tags_for_resource,
    "call_action": eks_call_action,
}
#: What EventBridge hands a target when the rule has no input transformer: moto leaves out the
#: envelope's `account`, which AWS delivers (order as AWS writes it).
EVENT_INPUT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)
_PATCHES: list[tuple[type, str, Any]] = [
    *((EKSResponse, name, func) for name, func in _EKS_METHODS.items()),
    (IamResponse, "call_action", iam_call_action),
    (CloudTrailResponse, "lookup_events", lookup_events),
    (EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", EVENT_INPUT_TEMPLATE),
    (Rule, "send_to_targets", rule_send_to_targets),
]
_lock = threading.RLock()
_install_count = 0
_MISSING = object()
#: what each patched class held in its own __dict__ before (restored on uninstall)
_SAVED: dict[str, Any] = {}


def install() -> None:
    """Plug the emulator into moto (reference-counted; pair every call with :func:`uninstall`)."""
    global _install_count
    with _lock:
        _install_count += 1
        if _install_count > 1:
            return
        for pattern, handler in URL_PATHS.items():
            _SAVED["url:" + pattern] = eks_urls.url_paths.get(pattern, _MISSING)
            eks_urls.url_paths[pattern] = handler
        for cls, name, func in _PATCHES:
            key = f"{cls.__name__}.{name}"
            _SAVED[key] = cls.__dict__.get(name, _MISSING)
            # the wrappers and overrides call what the class resolved to before (maybe inherited)
            _ORIGINALS[key] = getattr(cls, name, None)
            setattr(cls, name, func)


def uninstall() -> None:
    """Undo one :func:`install`; the last one puts moto back exactly as it was."""
    global _install_count
    with _lock:
        if _install_count == 0:
            return
        _install_count -= 1
        if _install_count > 0:
            return
        for pattern in URL_PATHS:
            original = _SAVED.pop("url:" + pattern)
            if original is _MISSING:
                eks_urls.url_paths.pop(pattern, None)
            else:
                eks_urls.url_paths[pattern] = original
        for cls, name, _ in _PATCHES:
            key = f"{cls.__name__}.{name}"
            original = _SAVED.pop(key)
            _ORIGINALS.pop(key, None)
            if original is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


def installed() -> bool:
    return _install_count > 0
