"""Values for condition operators: literal text in `*Like` operators, ARN patterns, namespace patterns."""

from __future__ import annotations

from .errors import ScpError

#: `*`, `?` and `$` mean something in a `*Like` operator; IAM writes them literally as `${*}`, `${?}`, `${$}`.
_LIKE_ESCAPES = {"*": "${*}", "?": "${?}", "$": "${$}"}


def like_literal(text: str) -> str:
    """`text` as a `StringLike` value that matches exactly `text`."""
    return "".join(_LIKE_ESCAPES.get(c, c) for c in text)


def arn_pattern(pattern: str, where: str) -> str:
    """A principal ARN pattern of the org rules, checked to mean in `ArnLike` what it means to the guardrail.

    The guardrail matches the whole ARN (`*` spans colons); `ArnLike` matches each of the six
    colon-separated parts on its own. For a pattern of six parts against a principal ARN
    (whose name and path hold no colon) the two agree; a pattern of fewer parts
    (`arn:aws:iam::*`) does not, so it is refused rather than rewritten.
    """
    if pattern.count(":") != 5:
        raise ScpError(
            f"{where}: {pattern!r} is not an ARN pattern of six colon-separated parts "
            f"(arn:PARTITION:iam::ACCOUNT:role/NAME); ArnLike would read it differently from the guardrail"
        )
    return pattern


def namespace_values(protected: str) -> list[str]:
    """`ForAnyValue:StringLike` values for `eks:namespaces` that match every namespace value reaching `protected`.

    An association's namespace is a name or a name with a trailing `*` (`dev-*`). It reaches
    the protected namespace (or pattern) when the protected one matches it (`protected` as a
    pattern: `kube-*`), or when it ends in `*` after a beginning of the protected name: `*`,
    `k*`, ..., `kube-system*` (the `*` written `${*}`, a literal star in the request).
    """
    return [protected] + [like_literal(protected[:length]) + "${*}" for length in range(len(protected) + 1)]
