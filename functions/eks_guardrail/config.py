"""The organisation-rules file: loaded, validated, and turned into one immutable model.

Validation is strict on purpose: an unknown key, a wrong type or a bad value is an error
naming its path (`rules.admin-policy.policies.AmazonEKSClusterAdminPolicy.allow[2]`) and
what is allowed. A typo must never silently switch a rule off.

The CLI and the CDK app load YAML files (`load_org_rules`); the Lambda functions receive
the same content as data (`org_rules_from_data`) and never import a YAML parser.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from .rules import REGISTRY
from .rules.base import ArnPattern, RuleSettings


class ConfigError(ValueError):
    """The org-rules file is unusable; `problems` lists `path: what is wrong` lines."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid org-rules configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExemptionTag(_Strict):
    key: str = Field(min_length=1, max_length=128)
    value: str = Field(max_length=256)


class Exemptions(_Strict):
    #: Changes to these principals are reported as exempt, never acted on.
    principals: tuple[ArnPattern, ...] = ()
    #: Entries (and clusters) carrying this tag are exempt.
    tag: ExemptionTag | None = None


def _account_ids(value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        return value
    for account in value:
        if isinstance(account, int):
            raise ValueError(
                f"account id {account} must be a quoted string of 12 digits "
                f"(YAML reads unquoted numbers as integers and drops leading zeros)"
            )
        if not (isinstance(account, str) and len(account) == 12 and account.isdigit()):
            raise ValueError(f"account id {account!r} must be a string of 12 digits")
    return value


def _matching(pattern: str, what: str):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return AfterValidator(check)


Region = Annotated[str, _matching(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$", "an AWS region such as eu-west-1")]
Email = Annotated[str, _matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address")]
Schedule = Annotated[str, _matching(r"^(rate|cron)\(.+\)$", "an EventBridge schedule such as 'rate(1 hour)' or 'cron(0 * * * ? *)'")]


class ChatbotSlack(_Strict):
    """An AWS Chatbot Slack channel configuration on the alert topic (the workspace must be authorised once in the console)."""

    slack_workspace_id: str = Field(min_length=1)
    slack_channel_id: str = Field(min_length=1)


class Deployment(_Strict):
    """Where `cdk deploy` puts the guardrail (read only by the CDK app)."""

    #: One guardrail stack per account and region.
    accounts: tuple[str, ...] = Field(min_length=1)
    #: Regions with clusters; each gets the access-entry handler.
    regions: tuple[Region, ...] = Field(min_length=1)
    #: Where the IAM-principal handler and the sweep run, and IAM events are forwarded to (default: the first region).
    home_region: Region | None = None
    alert_emails: tuple[Email, ...] = ()
    #: Secrets Manager secret holding the Slack incoming-webhook URL.
    slack_secret_name: str | None = None
    chatbot_slack: ChatbotSlack | None = None
    #: EventBridge schedule expression of the sweep.
    sweep_schedule: Schedule = "rate(1 hour)"
    #: Create a CloudTrail trail (for accounts without one: EventBridge sees no CloudTrail events otherwise).
    create_trail: bool = False

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        return _account_ids(value)

    @model_validator(mode="after")
    def _home_in_regions(self) -> "Deployment":
        if self.home_region is not None and self.home_region not in self.regions:
            raise ValueError(f"home_region {self.home_region} must be one of regions ({', '.join(self.regions)})")
        return self

    @property
    def home(self) -> str:
        return self.home_region or self.regions[0]


def _rules_model() -> type[BaseModel]:
    """`rules:` has one optional key per registered rule, named by its id."""
    fields: dict[str, Any] = {
        spec.rule_id.replace("-", "_"): (spec.settings_model, Field(default_factory=spec.settings_model, alias=spec.rule_id))
        for spec in REGISTRY.values()
    }
    return create_model("RulesConfig", __config__=ConfigDict(extra="forbid", frozen=True, populate_by_name=True), **fields)


RulesConfig = _rules_model()


class OrgRules(_Strict):
    """The whole org-rules file."""

    #: monitor: every rollback becomes an alert (dry run, the default); enforce: act.
    mode: Literal["monitor", "enforce"] = "monitor"
    #: Principals from these accounts may be granted access; the event's own account always is.
    trusted_accounts: tuple[str, ...] = ()
    exemptions: Exemptions = Exemptions()
    rules: RulesConfig = Field(default_factory=RulesConfig)  # type: ignore[valid-type]

    #: Where `cdk deploy` puts it; the handlers never read it.
    deployment: Deployment | None = None

    @field_validator("trusted_accounts", mode="before")
    @classmethod
    def _account_ids(cls, value: Any) -> Any:
        return _account_ids(value)

    def handler_config(self) -> dict[str, Any]:
        """The validated rules as the Lambda functions receive them (JSON-ready, no deployment part)."""
        return self.model_dump(mode="json", by_alias=True, exclude={"deployment"}, exclude_defaults=True)

    def settings(self, rule_id: str) -> RuleSettings:
        """The settings of one rule, by its id (`admin-policy`)."""
        return getattr(self.rules, rule_id.replace("-", "_"))


def org_rules_from_data(data: Any, *, source: str = "org rules") -> OrgRules:
    """Validate already-parsed content (a dict from YAML or JSON)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, [f"(top level): expected a mapping of settings, got {type(data).__name__}"])
    try:
        return OrgRules.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        # "at least 1 item" after a bad item was dropped repeats that item's error: keep the item's.
        item_locs = {tuple(e["loc"][:-1]) for e in errors if e["loc"] and isinstance(e["loc"][-1], int)}
        errors = [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in item_locs)]
        raise ConfigError(source, [_describe(e) for e in errors]) from None


def load_org_rules(path: str | Path) -> OrgRules:
    """Read and validate a YAML org-rules file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file: {error.strerror or error}"]) from None
    return org_rules_from_data(parse_yaml(text, source=str(path)), source=str(path))


def parse_yaml(text: str, *, source: str) -> Any:
    """Safe YAML with duplicate keys rejected (a second `admin-policy:` would replace the first)."""
    import yaml  # only the CLI and CDK app read YAML; Lambda gets the config as data

    class _UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(source, [f"line {line}: duplicate key {key!r}"])
            seen.add(key)
        return loader.construct_mapping(node, deep=deep)

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(error, 'problem', None) or error}"]) from None


# --- error messages -----------------------------------------------------------------------


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself was bad"
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"{_path(loc)}: unknown key{hint}"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"{_path(loc)}: {message}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc` accepts, for 'unknown key' messages."""
    annotation: Any = OrgRules
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_in(annotation)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _step(annotation: Any, part: Any) -> Any:
    model = _model_in(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (dict, Mapping):
        return args[1]
    if origin in (tuple, list):
        return args[0]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None
