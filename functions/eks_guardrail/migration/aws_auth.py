"""Read the aws-auth ConfigMap (`kubectl get configmap aws-auth -n kube-system -o yaml|json`)
the way aws-iam-authenticator reads it, tolerating what real clusters contain.

What aws-iam-authenticator does (kubernetes-sigs/aws-iam-authenticator at
81b1daba00d194c00d3cdd8b0a0fece5ba648d4e):
- `pkg/mapper/configmap/configmap.go` `ParseMap`: `mapRoles`, `mapUsers` and `mapAccounts` are
  each optional; a value that is blank, ``` `` ```, `""` or `''` is skipped (`isSkippable`).
  mapRoles/mapUsers go YAML -> JSON -> Go structs, so their keys match case-insensitively
  (`rolearn`, `roleARN`, `RoLeArN`: test data `yaml/aws-auth-crazy-case-keys.yaml`); the
  top-level keys are case-sensitive (`maproles` is ignored). A mapping without `rolearn`
  (`userarn`) fails `Validate` (`pkg/config/mapper.go`). `mapAccounts` is decoded by yaml.v2
  into `[]string`, which takes a number as the text it was written as.
- `saveMap` keys each section by ARN (`RoleMapping.Key()` lower-cases it), so a later mapping
  of the same ARN replaces an earlier one: the last wins (issue #271, "Same ARN twice overwrites
  previous groups"). `mapper.go` `Map` looks in mapRoles before mapUsers, so a role mapping
  hides a user mapping of the same ARN. (User keys keep their case but match with EqualFold, so
  which of two case variants of a user ARN wins is Go map order; this reader treats both
  sections case-insensitively, last wins.)
- A section it cannot parse is dropped while the others stay ("Only saving data that was
  good"). Here any problem is an error instead: a migration plan built from part of aws-auth
  would silently lose principals.

YAML itself forbids tabs for indentation; PyYAML (and YAML 1.1 resolution in general) would
read `012345670123` as an octal number, so account ids are taken as written (node text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Literal

import yaml

#: Problems listed in one error, and characters of any echoed value: messages stay bounded.
MAX_PROBLEMS = 20
MAX_ECHO = 80
TAB_WIDTH = 2  # one tab for one indentation level, as kubectl prints YAML
#: aws-iam-authenticator compares the ARN as written (`strings.EqualFold`), spaces included.
ARN_SPACES_NOTE = " (aws-iam-authenticator compares the ARN with its spaces: check that this mapping was in effect)"

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_SECTIONS = ("mapRoles", "mapUsers", "mapAccounts")
_BAD = object()  # a section that could not be read (its problem is recorded)


@dataclass(frozen=True)
class AuthMapping:
    """One entry of mapRoles or mapUsers; `source` is where it is, e.g. `mapRoles[3]`."""

    kind: Literal["role", "user"]
    arn: str
    username: str | None
    groups: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class AccountMapping:
    account: str
    source: str


@dataclass(frozen=True)
class AwsAuth:
    roles: tuple[AuthMapping, ...]
    users: tuple[AuthMapping, ...]
    accounts: tuple[AccountMapping, ...]
    warnings: tuple[str, ...]


class AwsAuthError(ValueError):
    """aws-auth could not be read; `str()` lists every problem with its path, one a line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = tuple(problems)
        lines = [f"{source}: {problem}" for problem in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"{source}: ... and {len(problems) - MAX_PROBLEMS} more problem(s)")
        super().__init__("\n".join(lines))


class _Reader:
    """Collects warnings and problems, each prefixed with the path it is about."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.problems: list[str] = []

    def warn(self, path: str | None, message: str) -> None:
        self.warnings.append(f"{path}: {message}" if path else message)

    def fail(self, path: str | None, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)


def parse_aws_auth(text: str, *, source: str = "aws-auth") -> AwsAuth:
    """The mappings of an aws-auth ConfigMap given as YAML or JSON; raises AwsAuthError."""
    reader = _Reader()
    data = _configmap_data(text, reader)
    roles = _mappings(data, "mapRoles", "role", reader)
    users = _mappings(data, "mapUsers", "user", reader)
    accounts = _accounts(data, reader)
    if reader.problems:
        raise AwsAuthError(source, reader.problems)
    roles, users = _without_duplicates(roles, users, reader)
    return AwsAuth(roles, users, accounts, tuple(f"{source}: {warning}" for warning in reader.warnings))


# --- the ConfigMap around the sections ---------------------------------------------------


def _configmap_data(text: str, reader: _Reader) -> dict[str, Any]:
    document = _load(_lf(text, None, reader), None, reader, _load_yaml_or_json, what="YAML or JSON")
    if document is _BAD:
        return {}
    if not isinstance(document, dict):
        reader.fail(None, f"not a ConfigMap (a YAML {_yaml_kind(document)})")
        return {}
    kind = document.get("kind")
    if kind is None and "data" not in document:
        reader.fail(None, "not a ConfigMap (no kind, no data)")
        return {}
    if kind not in (None, "ConfigMap"):
        reader.fail(None, f"not a ConfigMap (kind: {_cut(kind)})")
        return {}
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if name not in (None, "aws-auth"):
        reader.warn("metadata.name", f"{_cut(name)}, not aws-auth")
    data = document.get("data")
    if data is None:
        reader.warn("data", "missing: aws-auth maps nobody")
        return {}
    if not isinstance(data, dict):
        reader.fail("data", f"not a mapping (a YAML {_yaml_kind(data)})")
        return {}
    for key in data:
        if key not in _SECTIONS and str(key).lower() in {s.lower() for s in _SECTIONS}:
            reader.warn(f"data.{_cut(key)}", "ignored: aws-iam-authenticator reads only mapRoles, mapUsers, mapAccounts (case-sensitive)")
    return data


def _load_yaml_or_json(text: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # YAML flow style also starts with "{"
    return yaml.safe_load(text)


def _section_text(data: dict[str, Any], key: str, reader: _Reader) -> str | None:
    """The YAML document held by `data.<key>`, or None when there is nothing to read."""
    path = f"data.{key}"
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        reader.fail(path, f"not a string (a YAML {_yaml_kind(value)}): aws-auth holds each section as a YAML document in a string (`{key}: |`)")
        return None
    value = _lf(value, path, reader)
    if value.strip() in ("", "``", '""', "''"):
        reader.warn(path, "empty: maps nobody")
        return None
    return value


# --- mapRoles, mapUsers --------------------------------------------------------------------


def _mappings(data: dict[str, Any], key: str, kind: Literal["role", "user"], reader: _Reader) -> tuple[AuthMapping, ...]:
    text = _section_text(data, key, reader)
    items = _BAD if text is None else _load(text, f"data.{key}", reader, yaml.safe_load)
    if items is _BAD:
        return ()
    if items is None:
        reader.warn(f"data.{key}", "empty: maps nobody")
        return ()
    if not isinstance(items, list):
        reader.fail(f"data.{key}", "not a YAML list")
        return ()
    mappings = (_mapping(item, f"{key}[{index}]", kind, reader) for index, item in enumerate(items))
    return tuple(m for m in mappings if m is not None)


def _mapping(item: Any, source: str, kind: Literal["role", "user"], reader: _Reader) -> AuthMapping | None:
    path = f"data.{source}"
    arn_key = "rolearn" if kind == "role" else "userarn"
    if not isinstance(item, dict):
        reader.fail(path, f"not a mapping of {arn_key}, username, groups (a YAML {_yaml_kind(item)})")
        return None
    fields = {str(k).lower(): v for k, v in item.items()}  # aws-iam-authenticator: keys case-insensitive
    written_arn = fields.get(arn_key)
    arn = _text(written_arn, f"{path}.{arn_key}", reader, ARN_SPACES_NOTE)
    username = _text(fields.get("username"), f"{path}.username", reader)
    groups = _groups(fields.get("groups"), f"{path}.groups", reader)
    if arn is None:
        if written_arn is None or isinstance(written_arn, str):
            reader.fail(f"{path}.{arn_key}", "missing")
        return None
    return AuthMapping(kind, arn, username, groups, source)


def _text(value: Any, path: str, reader: _Reader, trim_note: str = "") -> str | None:
    """A string field, trimmed (warning when that changed it); None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        reader.fail(path, f"not a string (a YAML {_yaml_kind(value)}: {_cut(value)})")
        return None
    trimmed = value.strip()
    if trimmed != value:
        reader.warn(path, f"spaces around {_cut(trimmed)!r} trimmed{trim_note}")
    return trimmed or None


def _groups(value: Any, path: str, reader: _Reader) -> tuple[str, ...]:
    if value is None:
        reader.warn(path, "missing: the mapping gives no Kubernetes groups")
        return ()
    if not isinstance(value, list):
        reader.fail(path, f"not a YAML list (a YAML {_yaml_kind(value)})")
        return ()
    groups = []
    for index, item in enumerate(value):
        group = _text(item, f"{path}[{index}]", reader)
        if group is None and (item is None or isinstance(item, str)):
            reader.warn(f"{path}[{index}]", "empty group ignored")
        elif group is not None:
            groups.append(group)
    return tuple(groups)


def _without_duplicates(roles: tuple[AuthMapping, ...], users: tuple[AuthMapping, ...], reader: _Reader) -> tuple[tuple[AuthMapping, ...], tuple[AuthMapping, ...]]:
    """Keep, for each ARN, the mapping aws-iam-authenticator uses (see the module docstring)."""
    used: dict[str, AuthMapping] = {}
    for mapping in roles + users:
        key = mapping.arn.lower()
        earlier = used.get(key)
        if earlier is None:
            used[key] = mapping
            continue
        winner, loser = (mapping, earlier) if mapping.kind == earlier.kind else (earlier, mapping)
        used[key] = winner
        reader.warn(None, f"{_cut(mapping.arn)} is mapped by {earlier.source} and {mapping.source}: aws-iam-authenticator uses {winner.source}, {loser.source} is ignored")
    kept = set(used.values())
    return tuple(m for m in roles if m in kept), tuple(m for m in users if m in kept)


# --- mapAccounts ----------------------------------------------------------------------------


def _accounts(data: dict[str, Any], reader: _Reader) -> tuple[AccountMapping, ...]:
    path = "data.mapAccounts"
    text = _section_text(data, "mapAccounts", reader)
    node = _BAD if text is None else _load(text, path, reader, lambda t: yaml.compose(t, Loader=yaml.SafeLoader))
    if node is _BAD or node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        reader.fail(path, "not a YAML list")
        return ()
    accounts = (_account(item, f"mapAccounts[{index}]", reader) for index, item in enumerate(node.value))
    return tuple(a for a in accounts if a is not None)


def _account(node: yaml.Node, source: str, reader: _Reader) -> AccountMapping | None:
    path = f"data.{source}"
    if not isinstance(node, yaml.ScalarNode):
        reader.fail(path, "not an account id (a YAML list or mapping)")
        return None
    if node.tag == _NULL_TAG or not node.value.strip():
        reader.warn(path, "empty account ignored")
        return None
    if node.tag != _STR_TAG:
        reader.warn(path, f"written as a YAML {node.tag.rsplit(':', 1)[-1]}: read as the text {_cut(node.value)}")
    account = _text(node.value, path, reader)
    return AccountMapping(account, source) if account else None


# --- YAML helpers ---------------------------------------------------------------------------


def _load(text: str, path: str | None, reader: _Reader, load: Callable[[str], Any], *, what: str = "YAML") -> Any:
    """`load(text)`; on a YAML error caused by tabs, again with the tabs as spaces (warning)."""
    try:
        return load(text)
    except (yaml.YAMLError, RecursionError) as error:
        if "\t" in text:
            try:
                loaded = load(text.expandtabs(TAB_WIDTH))
            except (yaml.YAMLError, RecursionError):
                pass
            else:
                reader.warn(path, f"tab characters read as {TAB_WIDTH} spaces each (YAML does not allow tabs for indentation)")
                return loaded
        reader.fail(path, f"not {what}: {_yaml_problem(error)}")
        return _BAD


def _yaml_problem(error: Exception) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{_cut(problem)}{where}"


def _lf(text: str, path: str | None, reader: _Reader) -> str:
    if "\r\n" not in text:
        return text
    reader.warn(path, "Windows line endings (CRLF) read as LF")
    return text.replace("\r\n", "\n")


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "mapping", list: "list", str: "string"}.get(type(value), type(value).__name__)


def _cut(value: Any) -> str:
    """A value to echo in a message: one line, at most MAX_ECHO characters."""
    text = (value if isinstance(value, str) else str(value)).replace("\n", "\\n")
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."
