"""SARIF for `iac`: the shared log (`cli/sarif.py`) with a physical location on every result,
so code scanning annotates the file and line; undecided resources are results too."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Mapping

from ..cli.sarif import sarif_log
from .judging import IacReport

UNDECIDED_RULE = "iac-undecided"


def iac_sarif(report: IacReport) -> dict[str, Any]:
    log = sarif_log((finding, None) for finding in report.findings)
    run = log["runs"][0]
    for result, finding in zip(run["results"], report.findings):
        result["locations"][0]["physicalLocation"] = physical_location(finding)
        result["locations"][0]["logicalLocations"][0]["name"] = finding["resource"]
    run["tool"]["driver"]["rules"].append(
        {
            "id": UNDECIDED_RULE,
            "name": "IacUndecided",
            "shortDescription": {"text": "a resource reads values known only after apply: it cannot be judged before"},
        }
    )
    run["results"] += [
        {
            "ruleId": UNDECIDED_RULE,
            "level": "warning",
            "message": {"text": item["message"]},
            "locations": [
                {"physicalLocation": physical_location(item), "logicalLocations": [{"name": item["resource"], "kind": "resource"}]}
            ],
            "partialFingerprints": {"iacResource/v1": f"{item['file']}#{item['resource']}"},
            "properties": {"unknown": item["unknown"]},
        }
        for item in report.undecided
    ]
    return log


def physical_location(item: Mapping[str, Any]) -> dict[str, Any]:
    """The file as a relative URI (what code scanning matches against the checkout) and the line (1 if unknown)."""
    uri = PurePath(item["file"]).as_posix()
    while uri.startswith("./"):
        uri = uri[2:]
    return {"artifactLocation": {"uri": uri}, "region": {"startLine": item.get("line") or 1}}
