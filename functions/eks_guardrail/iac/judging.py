"""Reads each input (told by content), turns its resources into typed changes and judges them
with the engine, exactly as events are judged. Pure apart from reading the files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..changes import AccessEntryCreated
from ..config import OrgRules
from ..engine import evaluate
from .cdk import cdk_templates
from .cloudformation import TemplateError, is_template, json_resource_lines, load_yaml_template, template_resources
from .resources import UNKNOWN_ACCOUNT, Context, PlannedResource
from .terraform import PlanError, is_terraform_plan, plan_resources

#: Bigger than any plan or template of a sane repository: refuse rather than exhaust memory.
MAX_FILE_BYTES = 200 * 1024 * 1024


class IacInputError(ValueError):
    """A file that cannot be read as a Terraform plan or a CloudFormation template."""


@dataclass
class IacReport:
    files: list[str] = field(default_factory=list)
    resources: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    undecided: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "resources": self.resources, "findings": self.findings, "undecided": self.undecided, "errors": self.errors}


def judge_paths(paths: Iterable[str], org: OrgRules, context: Context) -> IacReport:
    """Every file (a directory: its `*.template.json`) read and judged; a bad one is an error, the others go on."""
    report = IacReport()
    for path in paths:
        files = [str(p) for p in cdk_templates(Path(path))] if Path(path).is_dir() else [path]
        if not files:
            report.errors.append({"file": path, "error": "no *.template.json in this directory (expected a cdk.out)"})
        for file in files:
            report.files.append(file)
            try:
                resources = read_resources(file, context)
            except IacInputError as error:
                report.errors.append({"file": file, "error": str(error)})
                continue
            for resource in resources:
                report.resources += 1
                judge_resource(resource, org, report)
    return report


def read_resources(file: str, context: Context) -> list[PlannedResource]:
    """The EKS access resources of one file: a Terraform plan, or a CloudFormation template in JSON or YAML."""
    try:
        if Path(file).stat().st_size > MAX_FILE_BYTES:
            raise IacInputError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IacInputError(f"cannot read: {error}") from None
    try:
        try:
            data: Any = json.loads(text)
            lines = json_resource_lines(text, data) if is_template(data) else {}
        except json.JSONDecodeError as json_error:
            try:
                data, lines = load_yaml_template(text)
            except yaml.YAMLError as yaml_error:
                raise IacInputError(f"neither JSON ({json_error}) nor YAML ({' '.join(str(yaml_error).split())[:300]})") from None
        if is_terraform_plan(data):
            return plan_resources(data, text, file, context)
        if is_template(data):
            return template_resources(data, lines, file, context)
    except IacInputError:
        raise
    except (PlanError, TemplateError) as error:
        raise IacInputError(str(error)) from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as error:
        raise IacInputError(f"unexpected shape: {type(error).__name__}: {str(error)[:200]}") from None
    raise IacInputError("neither a Terraform plan (`terraform show -json`) nor a CloudFormation template (no Resources)")


def judge_resource(resource: PlannedResource, org: OrgRules, report: IacReport) -> None:
    where = {"file": resource.where.file, "resource": resource.where.resource, "line": resource.where.line}
    unknown = list(resource.unknown)
    if _needs_account(resource, org):
        unknown.append(UNKNOWN_ACCOUNT)
    if unknown:
        report.undecided.append(
            {**where, "unknown": unknown, "message": f"{resource.where.resource} cannot be judged before it is applied: unknown {', '.join(unknown)}"}
        )
    for change in resource.changes:
        for finding in evaluate(change, org):
            report.findings.append({**finding.to_dict(), **where})


def _needs_account(resource: PlannedResource, org: OrgRules) -> bool:
    """cross-account judges a new entry against the cluster's account: without it, never read as compliant."""
    if org.settings("cross-account").action == "off":
        return False
    return any(isinstance(change, AccessEntryCreated) and not change.meta.account for change in resource.changes)
