"""The org rules as Service Control Policies (and a permissions boundary): prevention before the event.

- `statements`: one Deny statement (or a few) per rule whose action is not `off`; rules in
  `alert` produce them as well as rules in `rollback` (prevention is the point); who is excepted.
- `condition_keys`: which EKS action carries which condition key, of which type.
- `grammar`: policy grammar, sizes and the set-operator holes, checked on every document.
- `split`: a statement too large for one SCP spread over several that mean the same.
- `documents`: statements packed into SCPs of at most 5,120 characters, at most 5 per target;
  the boundary (at most 6,144).
- `gaps`: what an SCP cannot prevent, and what of eks-guardrail covers it.
"""

from __future__ import annotations

from .documents import BOUNDARY_CHARACTERS, SCP_CHARACTERS, SCPS_PER_TARGET, Policy, PolicySet, build_policy_set
from .errors import ScpError
from .gaps import Gap, gaps_for
from .grammar import minified, policy_problems
from .statements import Guard, enabled_rules, excepted_callers, guards_for

__all__ = [
    "BOUNDARY_CHARACTERS",
    "SCP_CHARACTERS",
    "SCPS_PER_TARGET",
    "Gap",
    "Guard",
    "Policy",
    "PolicySet",
    "ScpError",
    "build_policy_set",
    "enabled_rules",
    "excepted_callers",
    "gaps_for",
    "guards_for",
    "minified",
    "policy_problems",
]
