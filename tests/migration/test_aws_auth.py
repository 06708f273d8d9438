"""Reading aws-auth as `kubectl get configmap aws-auth -n kube-system -o yaml|json` prints it,
with the quirks of real clusters, and refusing what is not aws-auth with every problem's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from eks_guardrail.migration.aws_auth import AccountMapping, AuthMapping, AwsAuth, AwsAuthError, parse_aws_auth

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "111122223333"
NODE_GROUPS = ("system:bootstrappers", "system:nodes")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def configmap(**sections: str) -> str:
    """A ConfigMap as kubectl prints it, each section a literal block (`mapRoles: |`)."""
    body = "".join(f"  {key}: |\n" + "".join(f"    {line}\n" for line in text.splitlines()) for key, text in sections.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n{body}"


def role(name: str, username: str | None, groups: tuple[str, ...], source: str, account: str = ACCOUNT) -> AuthMapping:
    return AuthMapping("role", f"arn:aws:iam::{account}:role/{name}", username, groups, source)


def user(name: str, username: str | None, groups: tuple[str, ...], source: str) -> AuthMapping:
    return AuthMapping("user", f"arn:aws:iam::{ACCOUNT}:user/{name}", username, groups, source)


EXPECTED = AwsAuth(
    roles=(
        role("eks-managed-ng-NodeInstanceRole-1A2B3C4D", "system:node:{{EC2PrivateDNSName}}", NODE_GROUPS, "mapRoles[0]"),
        role("eks-fargate-pod-execution-role", "system:node:{{SessionName}}", NODE_GROUPS + ("system:node-proxier",), "mapRoles[1]"),
        role("windows-self-managed-NodeInstanceRole", "system:node:{{EC2PrivateDNSName}}", NODE_GROUPS + ("eks:kube-proxy-windows",), "mapRoles[2]"),
        role("AWSReservedSSO_AdministratorAccess_0123456789abcdef", "sso-admin:{{SessionName}}", ("system:masters",), "mapRoles[3]"),
        role("AWSReservedSSO_ReadOnly_fedcba9876543210", "{{SessionName}}", ("viewers",), "mapRoles[4]"),
        role("ci-deployer", "ci-deployer", ("deployers", "system:authenticated"), "mapRoles[5]"),
        role("partner-readonly", "partner:{{AccountID}}:{{SessionNameRaw}}", ("viewers",), "mapRoles[6]", account="222233334444"),
    ),
    users=(
        user("alice", "alice", ("system:masters",), "mapUsers[0]"),
        user("bob", f"arn:aws:iam::{ACCOUNT}:user/bob", ("developers",), "mapUsers[1]"),
    ),
    accounts=(AccountMapping("444455556666", "mapAccounts[0]"),),
    warnings=(),
)


# --- real-shaped ConfigMaps ---------------------------------------------------------------


def test_the_yaml_kubectl_prints_is_read_mapping_by_mapping():
    assert parse_aws_auth(fixture("aws-auth.yaml")) == EXPECTED


def test_the_json_kubectl_prints_reads_the_same():
    assert parse_aws_auth(fixture("aws-auth.json")) == EXPECTED


def test_windows_line_endings_read_the_same_with_a_warning():
    auth = parse_aws_auth(fixture("aws-auth.yaml").replace("\n", "\r\n"), source="cm.yaml")
    assert (auth.roles, auth.users, auth.accounts) == (EXPECTED.roles, EXPECTED.users, EXPECTED.accounts)
    assert auth.warnings == ("cm.yaml: Windows line endings (CRLF) read as LF",)


def test_windows_line_endings_inside_a_json_string_are_read_as_lf():
    text = fixture("aws-auth.json").replace("\\n", "\\r\\n")
    auth = parse_aws_auth(text)
    assert auth.roles == EXPECTED.roles and auth.users == EXPECTED.users
    assert auth.warnings == tuple(f"aws-auth: data.{key}: Windows line endings (CRLF) read as LF" for key in ("mapRoles", "mapUsers", "mapAccounts"))


def test_absent_sections_map_nobody():
    assert parse_aws_auth("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth}\ndata:\n  mapRoles: |\n    []\n") == AwsAuth((), (), (), ())


def test_keys_of_a_mapping_match_case_insensitively_as_aws_iam_authenticator_reads_them():
    # aws-iam-authenticator test data: yaml/aws-auth-crazy-case-keys.yaml, aws-auth-open-source-case-keys.yaml
    text = configmap(
        mapRoles=f"- rOlEaRn: arn:aws:iam::{ACCOUNT}:role/a\n  UsErNaMe: a\n  gRoUpS: [x]\n- roleARN: arn:aws:iam::{ACCOUNT}:role/b\n  groups: [y]",
        mapUsers=f"- userARN: arn:aws:iam::{ACCOUNT}:user/c\n  groups: [z]",
    )
    auth = parse_aws_auth(text)
    assert auth.roles == (role("a", "a", ("x",), "mapRoles[0]"), role("b", None, ("y",), "mapRoles[1]"))
    assert auth.users == (user("c", None, ("z",), "mapUsers[0]"),)


# --- quirks accepted with a warning ---------------------------------------------------------


def test_tabs_in_the_embedded_yaml_are_read_as_spaces():
    text = configmap(mapRoles=f"- rolearn: arn:aws:iam::{ACCOUNT}:role/dev\n\tusername: dev:{{{{SessionName}}}}\n\tgroups:\n\t\t- developers\n\t\t- viewers")
    auth = parse_aws_auth(text)
    assert auth.roles == (role("dev", "dev:{{SessionName}}", ("developers", "viewers"), "mapRoles[0]"),)
    assert auth.warnings == ("aws-auth: data.mapRoles: tab characters read as 2 spaces each (YAML does not allow tabs for indentation)",)


def test_spaces_around_arns_usernames_and_groups_are_trimmed():
    text = configmap(mapUsers=f'- userarn: "arn:aws:iam::{ACCOUNT}:user/alice "\n  username: " alice"\n  groups:\n  - "admins  "\n  - ""')
    auth = parse_aws_auth(text)
    assert auth.users == (user("alice", "alice", ("admins",), "mapUsers[0]"),)
    assert auth.warnings == (
        f"aws-auth: data.mapUsers[0].userarn: spaces around 'arn:aws:iam::{ACCOUNT}:user/alice' trimmed "
        "(aws-iam-authenticator compares the ARN with its spaces: check that this mapping was in effect)",
        "aws-auth: data.mapUsers[0].username: spaces around 'alice' trimmed",
        "aws-auth: data.mapUsers[0].groups[0]: spaces around 'admins' trimmed",
        "aws-auth: data.mapUsers[0].groups[1]: empty group ignored",
    )


def test_a_duplicated_arn_keeps_the_last_mapping_of_its_section_as_aws_iam_authenticator_does():
    # aws-iam-authenticator keys its role map by the lower-cased ARN: the last one wins (issue #271)
    text = configmap(
        mapRoles=(
            f"- rolearn: arn:aws:iam::{ACCOUNT}:role/admins\n  username: operator\n  groups: [system:masters]\n"
            f"- rolearn: arn:aws:iam::{ACCOUNT}:role/other\n  groups: [x]\n"
            f"- rolearn: arn:aws:iam::{ACCOUNT}:role/Admins\n  groups: [test-dev-group]"
        )
    )
    auth = parse_aws_auth(text)
    assert auth.roles == (role("other", None, ("x",), "mapRoles[1]"), role("Admins", None, ("test-dev-group",), "mapRoles[2]"))
    assert auth.warnings == (
        f"aws-auth: arn:aws:iam::{ACCOUNT}:role/Admins is mapped by mapRoles[0] and mapRoles[2]: aws-iam-authenticator uses mapRoles[2], mapRoles[0] is ignored",
    )


def test_a_role_mapping_hides_a_user_mapping_of_the_same_arn():
    # aws-iam-authenticator looks the caller up in mapRoles before mapUsers
    arn = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    text = configmap(mapRoles=f"- rolearn: {arn}\n  groups: [deployers]", mapUsers=f"- userarn: {arn}\n  groups: [system:masters]")
    auth = parse_aws_auth(text)
    assert auth.roles == (role("deployer", None, ("deployers",), "mapRoles[0]"),) and auth.users == ()
    assert auth.warnings == (f"aws-auth: {arn} is mapped by mapRoles[0] and mapUsers[0]: aws-iam-authenticator uses mapRoles[0], mapUsers[0] is ignored",)


@pytest.mark.parametrize("groups", ["", "\n  groups:", "\n  groups: null", "\n  groups: ~"])
def test_missing_or_null_groups_give_no_groups(groups):
    auth = parse_aws_auth(configmap(mapUsers=f"- userarn: arn:aws:iam::{ACCOUNT}:user/alice\n  username: alice{groups}"))
    assert auth.users == (user("alice", "alice", (), "mapUsers[0]"),)
    assert auth.warnings == ("aws-auth: data.mapUsers[0].groups: missing: the mapping gives no Kubernetes groups",)


def test_accounts_written_as_strings_or_numbers_are_read_as_written():
    # yaml.v2 reads a number into a string as its text; PyYAML would read 012345670123 as octal
    auth = parse_aws_auth(configmap(mapAccounts='- "444455556666"\n- 555566667777\n- 012345670123\n- \'777788889999\''))
    assert auth.accounts == (
        AccountMapping("444455556666", "mapAccounts[0]"),
        AccountMapping("555566667777", "mapAccounts[1]"),
        AccountMapping("012345670123", "mapAccounts[2]"),
        AccountMapping("777788889999", "mapAccounts[3]"),
    )
    assert auth.warnings == (
        "aws-auth: data.mapAccounts[1]: written as a YAML int: read as the text 555566667777",
        "aws-auth: data.mapAccounts[2]: written as a YAML int: read as the text 012345670123",
    )


def test_accounts_in_a_flow_list_json_style():
    auth = parse_aws_auth('{"kind": "ConfigMap", "data": {"mapAccounts": "[444455556666, \\"555566667777\\"]"}}')
    assert [a.account for a in auth.accounts] == ["444455556666", "555566667777"]


@pytest.mark.parametrize("empty", ['""', "''", '"``"', '"  \\n"'])
def test_an_empty_section_document_maps_nobody(empty):
    auth = parse_aws_auth(f'{{"kind": "ConfigMap", "data": {{"mapUsers": {empty}}}}}')
    assert auth == AwsAuth((), (), (), ("aws-auth: data.mapUsers: empty: maps nobody",))


def test_a_section_of_only_comments_maps_nobody():
    auth = parse_aws_auth(configmap(mapRoles="# nobody yet"))
    assert auth == AwsAuth((), (), (), ("aws-auth: data.mapRoles: empty: maps nobody",))


def test_a_section_key_in_another_case_is_ignored_as_aws_iam_authenticator_ignores_it():
    auth = parse_aws_auth(configmap(maproles=f"- rolearn: arn:aws:iam::{ACCOUNT}:role/a"))
    assert auth.roles == ()
    assert auth.warnings == ("aws-auth: data.maproles: ignored: aws-iam-authenticator reads only mapRoles, mapUsers, mapAccounts (case-sensitive)",)


def test_another_configmap_name_is_read_with_a_warning():
    auth = parse_aws_auth("kind: ConfigMap\nmetadata:\n  name: aws-auth-backup\ndata: {}\n")
    assert auth.warnings == ("aws-auth: metadata.name: aws-auth-backup, not aws-auth",)


def test_a_configmap_without_data_maps_nobody():
    assert parse_aws_auth("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth}\n").warnings == ("aws-auth: data: missing: aws-auth maps nobody",)


# --- errors, each with its path -------------------------------------------------------------


def error_of(text: str, source: str = "aws-auth") -> str:
    with pytest.raises(AwsAuthError) as caught:
        parse_aws_auth(text, source=source)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_every_problem_is_listed_with_its_path():
    text = configmap(
        mapRoles=f"- rolearn: arn:aws:iam::{ACCOUNT}:role/a\n- rolearn: arn:aws:iam::{ACCOUNT}:role/b\n- groups: [x]\n- username: 7\n  rolearn: ''\n- just-a-string",
        mapUsers="userarn: arn:aws:iam::111122223333:user/a",
        mapAccounts="- [444455556666]",
    )
    assert error_of(text).splitlines() == [
        "aws-auth: data.mapRoles[2].rolearn: missing",
        "aws-auth: data.mapRoles[3].username: not a string (a YAML number: 7)",
        "aws-auth: data.mapRoles[3].rolearn: missing",
        "aws-auth: data.mapRoles[4]: not a mapping of rolearn, username, groups (a YAML string)",
        "aws-auth: data.mapUsers: not a YAML list",
        "aws-auth: data.mapAccounts[0]: not an account id (a YAML list or mapping)",
    ]


def test_groups_that_are_not_a_list_of_strings():
    text = configmap(mapRoles=f"- rolearn: arn:aws:iam::{ACCOUNT}:role/a\n  groups: system:masters\n- rolearn: arn:aws:iam::{ACCOUNT}:role/b\n  groups: [ok, {{a: b}}]")
    assert error_of(text).splitlines() == [
        "aws-auth: data.mapRoles[0].groups: not a YAML list (a YAML string)",
        "aws-auth: data.mapRoles[1].groups[1]: not a string (a YAML mapping: {'a': 'b'})",
    ]


def test_a_section_written_as_yaml_instead_of_a_string():
    # aws-iam-authenticator test data yaml/aws-auth-missing-bar.yaml: `mapRoles:` without `|`
    text = "kind: ConfigMap\ndata:\n  mapRoles:\n    - rolearn: arn:aws:iam::111122223333:role/a\n"
    assert error_of(text) == "aws-auth: data.mapRoles: not a string (a YAML list): aws-auth holds each section as a YAML document in a string (`mapRoles: |`)"


def test_a_section_that_is_not_yaml_names_the_line():
    text = configmap(mapRoles=f"- rolearn: arn:aws:iam::{ACCOUNT}:role/a\n  groups: [x\n- rolearn: b")
    assert error_of(text) == "aws-auth: data.mapRoles: not YAML: expected ',' or ']', but got ':' (line 3, column 10)"


def test_not_a_configmap():
    assert error_of("apiVersion: v1\nkind: Secret\ndata:\n  mapRoles: bm9wZQ==\n") == "aws-auth: not a ConfigMap (kind: Secret)"
    assert error_of("- just\n- a list\n") == "aws-auth: not a ConfigMap (a YAML list)"
    assert error_of("apiVersion: v1\nmetadata: {name: aws-auth}\n") == "aws-auth: not a ConfigMap (no kind, no data)"
    assert error_of("kind: ConfigMap\ndata: [a]\n") == "aws-auth: data: not a mapping (a YAML list)"


def test_input_that_is_neither_yaml_nor_json():
    assert error_of("kind: ConfigMap\ndata: {mapRoles: '", source="cm.txt").startswith("cm.txt: not YAML or JSON: ")
    assert error_of('{"kind": "ConfigMap", "data": {').startswith("aws-auth: not YAML or JSON: ")
    assert error_of("\x00\x01binary").startswith("aws-auth: not YAML or JSON: ")


def test_messages_stay_bounded():
    long_kind = "K" * 500
    assert error_of(f"kind: {long_kind}\n") == f"aws-auth: not a ConfigMap (kind: {'K' * 80}...)"
    many = "\n".join("- groups: [x]" for _ in range(50))
    lines = error_of(configmap(mapRoles=many)).splitlines()
    assert len(lines) == 21 and lines[-1] == "aws-auth: ... and 30 more problem(s)"
    assert lines[0] == "aws-auth: data.mapRoles[0].rolearn: missing"


def test_the_error_keeps_its_problems():
    with pytest.raises(AwsAuthError) as caught:
        parse_aws_auth(configmap(mapRoles="- groups: [x]"))
    assert caught.value.problems == ("data.mapRoles[0].rolearn: missing",)
