"""SARIF 2.1.0 (the format code-scanning tools read) for findings judged from CloudTrail records."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .. import __version__
from ..rules import REGISTRY

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: Our severities on SARIF's levels.
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def sarif_log(findings: Iterable[tuple[Mapping[str, Any], str | None]]) -> dict[str, Any]:
    """One run; `findings` are (finding as in the json output, what `enforce` would have done or None)."""
    results = [_result(finding, would) for finding, would in findings]
    rules = [
        {
            "id": spec.rule_id,
            "name": "".join(part.title() for part in spec.rule_id.split("-")),
            "shortDescription": {"text": spec.summary},
        }
        for spec in sorted(REGISTRY.values(), key=lambda s: s.rule_id)
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": {"name": "eks-guardrail", "version": __version__, "rules": rules}}, "results": results}],
    }


def _result(finding: Mapping[str, Any], would: str | None) -> dict[str, Any]:
    where = "/".join(p for p in (finding["account"], finding["region"], finding["cluster"] or "") if p)
    principal = finding["principal_arn"] or ""
    properties = {
        key: finding[key]
        for key in ("severity", "action", "configured_action", "exempt", "event_id", "event_name", "event_time", "actor_arn", "policy_arn")
    }
    if would is not None:
        properties["enforce_would_have"] = would
    return {
        "ruleId": finding["rule"],
        "level": LEVEL.get(finding["severity"], "warning"),
        "message": {"text": finding["message"]},
        "locations": [
            {"logicalLocations": [{"name": principal or where, "fullyQualifiedName": f"{where}/{principal}".strip("/"), "kind": "resource"}]}
        ],
        "partialFingerprints": {"eventRule/v1": f"{finding['event_id']}/{finding['rule']}/{principal}"},
        "properties": properties,
    }
