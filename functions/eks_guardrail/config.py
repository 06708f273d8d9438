"""The organisation-rules file: loaded, validated, and turned into one immutable model.

Validation is strict on purpose: an unknown key, a wrong type or a bad value is an error
naming its path (`rules.admin-policy.policies.AmazonEKSClusterAdminPolicy.allow[2]`) and
what is allowed. A typo must never silently switch a rule off.

The CLI and the CDK app load YAML files (`load_org_rules`); the Lambda functions receive
the same content as data (`org_rules_from_data`) and never import a YAML parser. The
models are frozen dataclasses checked by `schema.py` (standard library only: the Lambda
cold start does not pay for a validation framework).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from .rules import REGISTRY
from .rules.base import ArnPattern, RuleSettings
from .schema import Check, MinItems, SchemaError, build, dump


class ConfigError(ValueError):
    """The org-rules file is unusable; `problems` lists `path: what is wrong` lines."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        # hostile input must not make the message unbounded: each line cut, at most 50 lines
        problems = [p if len(p) <= 1000 else f"{p[:1000]}… ({len(p)} characters)" for p in problems]
        self.problems = problems[:50] + ([f"... and {len(problems) - 50} more"] if len(problems) > 50 else [])
        super().__init__(f"{source}: invalid org-rules configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _account_ids(value: Any) -> Any:
    for account in value:
        if isinstance(account, int):
            raise ValueError(
                f"account id {account} must be a quoted string of 12 digits "
                f"(YAML reads unquoted numbers as integers and drops leading zeros)"
            )
        if not isinstance(account, str) or not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"account id {repr(account)[:40]} must be a string of 12 digits")
    return value


def _matching(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return Check(check)


def _length(low: int, high: int, what: str) -> Check:
    def check(value: str) -> str:
        if not low <= len(value) <= high:
            raise ValueError(f"{what} must be {low} to {high} characters long")
        return value

    return Check(check)


AccountIds = Annotated[tuple[Any, ...], Check(_account_ids)]
Region = Annotated[str, _matching(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$", "an AWS region such as eu-west-1")]
Email = Annotated[str, _matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address")]
Schedule = Annotated[str, _matching(r"^(rate|cron)\(.+\)$", "an EventBridge schedule such as 'rate(1 hour)' or 'cron(0 * * * ? *)'")]
NonEmpty = Annotated[str, _length(1, 2048, "the value")]


@dataclass(frozen=True)
class ExemptionTag:
    key: Annotated[str, _length(1, 128, "a tag key")]
    value: Annotated[str, _length(0, 256, "a tag value")]
    #: Who may set the tag: set by anyone else it is not honoured, and is itself a finding
    #: (`exemption-tag`). Required: a tag anyone allowed `eks:TagResource` could set would
    #: be a self-service exemption.
    set_by: Annotated[tuple[ArnPattern, ...], MinItems(1)]


@dataclass(frozen=True)
class Exemptions:
    #: Changes to these principals are reported as exempt, never acted on.
    principals: tuple[ArnPattern, ...] = ()
    #: Entries (and clusters) carrying this tag are exempt.
    tag: ExemptionTag | None = None


@dataclass(frozen=True)
class ChatbotSlack:
    """An AWS Chatbot Slack channel configuration on the alert topic (the workspace must be authorised once in the console)."""

    slack_workspace_id: NonEmpty
    slack_channel_id: NonEmpty


OuId = Annotated[
    str,
    _matching(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$", "an organizational unit id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"),
]
OrganizationId = Annotated[str, _matching(r"^o-[a-z0-9]{10,32}$", "an organization id such as o-a1b2c3d4e5")]
SnsTopicArn = Annotated[
    str,
    _matching(
        r"^arn:aws[a-z-]*:sns:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}$",
        "a standard (not FIFO) SNS topic ARN such as arn:aws:sns:eu-west-1:999988887777:eks-guardrail-alerts",
    ),
]
KmsKeyArn = Annotated[
    str,
    _matching(
        r"^arn:aws[a-z-]*:kms:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+:\d{12}:key/[A-Za-z0-9-]{1,128}$",
        "a KMS key ARN such as arn:aws:kms:eu-west-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
]
#: S3 bucket names are at most 63 characters: the prefix, a dash and the longest region name (14 today) must fit.
AssetBucketPrefix = Annotated[
    str,
    _matching(
        r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$",
        "3 to 40 lowercase letters, digits or dashes, starting and ending with a letter or digit (the buckets are <prefix>-<region>)",
    ),
]


def _unique(what: str, values: tuple[str, ...]) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} listed twice: {', '.join(repeated)}")


@dataclass(frozen=True)
class Organization:
    """An org-wide rollout: CloudFormation StackSets with service-managed permissions (read only by the CDK app).

    Deployed from the organization's management account or a CloudFormation delegated administrator,
    to every account in `ou_ids` (nested OUs included), now and as accounts join them later.
    """

    #: Organizational units (`ou-xxxx-xxxxxxxx`) or the root (`r-xxxx`) whose accounts get the guardrail.
    ou_ids: Annotated[tuple[OuId, ...], MinItems(1)]
    #: Regions with clusters, in every target account.
    regions: Annotated[tuple[Region, ...], MinItems(1)]
    #: The home region of every account (default: the first region); also where the StackSets are administered.
    home_region: Region | None = None
    #: `o-...`: with it, the app also creates the asset buckets, readable only by the organization (aws:PrincipalOrgID).
    organization_id: OrganizationId | None = None
    #: The buckets `<prefix>-<region>` holding the Lambda code for the member accounts
    #: (default: `eks-guardrail-assets-<administrator account id>`, the account of the credentials that synthesise).
    asset_bucket_prefix: AssetBucketPrefix | None = None
    #: True: deployed from a delegated administrator account (CallAs DELEGATED_ADMIN); false: from the management account.
    delegated_admin: bool = True
    #: An account leaving the OUs keeps its guardrail stacks (true) or they are deleted (false).
    retain_stacks_on_account_removal: bool = False
    #: Every member's findings are published to this topic (a security account's), not to the member's own topic.
    central_alert_topic_arn: SnsTopicArn | None = None
    #: The customer-managed KMS key of the central topic, if it is encrypted with one.
    central_alert_key_arn: KmsKeyArn | None = None

    def __post_init__(self) -> None:
        _unique("ou_ids: an id", self.ou_ids)
        _unique("regions: a region", self.regions)
        if self.home_region is not None and self.home_region not in self.regions:
            raise ValueError(f"home_region {self.home_region} must be one of regions ({', '.join(self.regions)})")
        if self.central_alert_key_arn is not None and self.central_alert_topic_arn is None:
            raise ValueError("central_alert_key_arn is the key of central_alert_topic_arn, which is missing")

    @property
    def home(self) -> str:
        return self.home_region or self.regions[0]


def _between(low: int, high: int, what: str) -> Check:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{what} must be from {low} to {high}, got {value}")
        return value

    return Check(check)


@dataclass(frozen=True)
class Deployment:
    """Where the CDK app puts the guardrail (read only by the CDK app): listed `accounts`, or an `organization`'s OUs."""

    #: One guardrail stack per account and region (`cdk deploy`). Exactly one of `accounts` and `organization`.
    accounts: AccountIds = ()
    #: Regions with clusters; each gets the access-entry handler. With `organization`: its `regions`.
    regions: Annotated[tuple[Region, ...], MinItems(1)] = ()
    #: Where the IAM-principal handler and the sweep run, and IAM events are forwarded to (default: the first region).
    home_region: Region | None = None
    #: StackSets to the accounts of organizational units, instead of `accounts`.
    organization: Organization | None = None
    alert_emails: tuple[Email, ...] = ()
    #: Secrets Manager secret holding the Slack incoming-webhook URL.
    slack_secret_name: NonEmpty | None = None
    chatbot_slack: ChatbotSlack | None = None
    #: EventBridge schedule expression of the sweep.
    sweep_schedule: Schedule = "rate(1 hour)"
    #: The sweep fans out, one SQS message per cluster: at most this many clusters are swept at once (the
    #: event source mapping's maximum concurrency, AWS allows 2 to 1000), so the account's EKS calls stay
    #: under EKS's API rate limits however many clusters there are.
    sweep_max_concurrency: Annotated[int, _between(2, 1000, "the maximum concurrency of the sweep's SQS event source (AWS's limits)")] = 5
    #: Threads of one sweep worker (one cluster): its EKS, IAM and ledger calls in parallel.
    sweep_worker_threads: Annotated[int, _between(1, 16, "the threads of one sweep worker")] = 4
    #: Create a CloudTrail trail (for accounts without one: EventBridge sees no CloudTrail events otherwise).
    create_trail: bool = False
    #: X-Ray active tracing of the functions (Powertools Tracer); off by default, it costs cold-start time.
    tracing: bool = False

    def __post_init__(self) -> None:
        self._check_targets()
        if self.organization is not None:
            # One source for the regions: the organization's (the stacks read `regions` and `home`).
            if (self.regions and self.regions != self.organization.regions) or (
                self.home_region is not None and self.home_region != self.organization.home
            ):
                raise ValueError(
                    "with `organization`, give the regions as organization.regions and organization.home_region, "
                    "not as deployment.regions and deployment.home_region"
                )
            object.__setattr__(self, "regions", self.organization.regions)
            object.__setattr__(self, "home_region", self.organization.home)
        if self.home_region is not None and self.home_region not in self.regions:
            raise ValueError(f"home_region {self.home_region} must be one of regions ({', '.join(self.regions)})")

    def _check_targets(self) -> None:
        if self.accounts and self.organization is not None:
            raise ValueError(
                "give either `accounts` (one stack per listed account and region, `cdk deploy`) or `organization` "
                "(StackSets to the accounts of organizational units), not both"
            )
        if not self.accounts and self.organization is None:
            raise ValueError(
                "`accounts` (a list of account ids, for `cdk deploy`) or `organization` "
                "(`ou_ids` and `regions`, for StackSets) is required"
            )
        if self.organization is None and not self.regions:
            raise ValueError("`regions` (at least one region) is required")

    @property
    def home(self) -> str:
        return self.home_region or self.regions[0]


def _rules_model() -> type:
    """`rules:` has one optional key per registered rule, named by its id."""
    fields = [
        (spec.rule_id.replace("-", "_"), spec.settings_model, field(default_factory=spec.settings_model, metadata={"key": spec.rule_id}))
        for spec in sorted(REGISTRY.values(), key=lambda s: s.rule_id)
    ]
    return dataclasses.make_dataclass("RulesConfig", fields, frozen=True)


RulesConfig = _rules_model()


@dataclass(frozen=True)
class OrgRules:
    """The whole org-rules file."""

    #: monitor: every rollback becomes an alert (dry run, the default); enforce: act.
    mode: Literal["monitor", "enforce"] = "monitor"
    #: Principals from these accounts may be granted access; the event's own account always is.
    trusted_accounts: AccountIds = ()
    exemptions: Exemptions = field(default_factory=Exemptions)
    rules: RulesConfig = field(default_factory=RulesConfig)  # type: ignore[valid-type]
    #: Also import every finding into AWS Security Hub (ASFF, the account's default product); off by default.
    security_hub: bool = False
    #: Where `cdk deploy` puts it; the handlers never read it.
    deployment: Deployment | None = None

    def settings(self, rule_id: str) -> RuleSettings:
        """The settings of one rule, by its id (`admin-policy`)."""
        return getattr(self.rules, rule_id.replace("-", "_"))

    def handler_config(self) -> dict[str, Any]:
        """The validated rules as the Lambda functions receive them (JSON-ready, no deployment part)."""
        data = dump(dataclasses.replace(self, deployment=None), skip_defaults=True)
        return data


def org_rules_from_data(data: Any, *, source: str = "org rules") -> OrgRules:
    """Validate already-parsed content (a dict from YAML or JSON)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, [f"(top level): expected a mapping of settings, got {type(data).__name__}"])
    try:
        return build(OrgRules, dict(data))
    except SchemaError as error:
        raise ConfigError(source, error.problems) from None
    except RecursionError:
        raise ConfigError(source, ["(top level): nested too deeply"]) from None


def load_org_rules(path: str | Path) -> OrgRules:
    """Read and validate a YAML org-rules file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {error.start})"]) from None
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
    except ConfigError:
        raise
    except (ValueError, RecursionError) as error:
        # beyond Python's limits: an integer of thousands of digits, nesting thousands deep
        raise ConfigError(source, [f"not usable YAML: {type(error).__name__}: {str(error)[:200]}"]) from None
