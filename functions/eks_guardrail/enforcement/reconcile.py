"""Reconcile one principal's access entry with what the rules and the ledger demand.

Level-triggered: an event (or the sweep, or a pending decision's retry) is only a trigger.
What is done depends on the entry as it is *now*, never on the delta one event describes,
so a second, quicker change cannot mask the first, and events may come in any order or
twice. What each rule's violation asks for:

- the whole entry must go (`prefer-roles`, `cross-account`): delete it;
- its username or groups are wrong (`reserved-prefix`): put back the ledger's last known
  good username and groups; an entry that was born with them (its create event was
  itself the violation) is deleted; with neither, nothing is guessed (`not-undone`);
- an association is wrong (`admin-policy`, `namespace-scope`): put back the scope the
  ledger knew, or disassociate;
- a protected entry is missing, of another type, or weaker than the ledger's record:
  recreate / replace / restore it. Restores go first, so that the admin path they give
  back lets the removals that follow pass lockout protection.

Every removal passes lockout protection against the principals that really hold cluster
admin now. The result of each step is a `Remedy`; what could not be done is kept as a
pending decision by the caller and re-examined later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable

from ..adapters.eks import EksAccessEntries
from ..arns import matches_any
from ..aws_catalog import NODE_ENTRY_TYPES, STANDARD, policy_name
from ..config import OrgRules
from ..engine import ObservedState, evaluate
from ..findings import Finding, Violation
from ..engine import make_finding
from ..state import EntryState
from .admin_view import lockout_refusal
from .lockout import Removal
from .rollbacks.base import ALREADY_UNDONE, NOT_UNDONE, REFUSED, ROLLED_BACK, RollbackResult, protected_principals

ENTRY = "delete-entry"
FIELDS = "revert-fields"
ASSOCIATION = "association"

#: What undoes each rule's violation (rules not listed here have no rollback).
REMEDY_KIND: dict[str, str] = {
    "prefer-roles": ENTRY,
    "cross-account": ENTRY,
    "reserved-prefix": FIELDS,
    "admin-policy": ASSOCIATION,
    "namespace-scope": ASSOCIATION,
}

#: EKS writes reconciliation may make (the access-entry handler and the sweep get them).
PERMISSIONS: tuple[str, ...] = (
    "eks:CreateAccessEntry",
    "eks:DeleteAccessEntry",
    "eks:UpdateAccessEntry",
    "eks:AssociateAccessPolicy",
    "eks:DisassociateAccessPolicy",
    "eks:TagResource",
)

#: Outcomes that are not final: the decision is re-examined until the state complies.
UNRESOLVED = frozenset({REFUSED, NOT_UNDONE, "deferred", "failed"})


@dataclass(frozen=True)
class Remedy:
    """One thing reconciliation did (or could not do) about one rule's violation."""

    rule: str
    policy_arn: str | None
    result: RollbackResult
    #: The violation as the current state shows it (reported when no event finding matches).
    finding: Finding | None = None
    #: The whole entry was deleted or recreated: this result answers every finding about it.
    whole_entry: bool = False

    def answers(self, finding: Finding) -> bool:
        if self.whole_entry:
            return True
        return self.rule == finding.rule and (finding.policy_arn is None or finding.policy_arn == self.policy_arn)


@dataclass
class Reconciliation:
    principal_arn: str
    remedies: list[Remedy] = field(default_factory=list)
    #: The entry as read before acting (None: it did not exist).
    current: EntryState | None = None
    #: The entry complies and nothing was done: a state the ledger may keep.
    compliant: bool = False
    exempt: bool = False

    @property
    def unresolved(self) -> list[Remedy]:
        return [r for r in self.remedies if r.result.status in UNRESOLVED]


@dataclass
class Reconciler:
    org: OrgRules
    eks: EksAccessEntries
    account: str
    region: str
    #: `(account, region, cluster, principal) -> EntryState | None`: the ledger's last known good state.
    known_good: Callable[[str, str, str, str], EntryState | None]
    #: The observed state (trusted tags only) an entry is judged with.
    observe: Callable[[EntryState], ObservedState] = lambda entry: ObservedState(entry_type=entry.entry_type)

    def reconcile(
        self, cluster: str, principal: str, *, born_bad_at: datetime | None = None, trigger_rules: frozenset[str] = frozenset()
    ) -> Reconciliation:
        """Bring `principal`'s entry on `cluster` to what the rules and the ledger demand.

        `born_bad_at`: when the entry's own create event was already a violation, the time of
        that event: an entry created then (not recreated since) never had a good state.
        `trigger_rules`: the rules the triggering event broke (a protected entry deleted with
        no ledger record is then reported `not-undone`, not silently left).
        """
        result = Reconciliation(principal)
        current = self.eks.describe_entry(cluster, principal)
        result.current = current
        known = self.known_good(self.account, self.region, cluster, principal)
        protected = matches_any(protected_principals(self.org), principal)

        if current is None:
            if protected and known is not None:
                self.eks.create_entry(known)
                result.remedies.append(Remedy("protected-entry", None, _done(f"recreated the {known.entry_type} entry with {_policies(known)}"), whole_entry=True))
            elif protected and "protected-entry" in trigger_rules:
                detail = "not undone: the ledger has no earlier state of this protected entry (run the sweep to fill it)"
                result.remedies.append(Remedy("protected-entry", None, RollbackResult(NOT_UNDONE, detail), whole_entry=True))
            return result

        state = self.observe(current)
        if protected and known is not None:
            # Before exemptions: an exemption lets a principal hold what the rules forbid; it never
            # lets anyone delete or weaken a protected entry (restores only give access back).
            restored = self._restore_protected(current, known)
            result.remedies += restored
            if any(r.whole_entry for r in restored):
                return result
            if restored:
                current = result.current = _after_restore(current, known)
        findings = _state_findings(current, self.org, self.account, self.region, state)
        if any(f.exempt for f in findings) or _exempt(current, self.org, self.account, self.region, state):
            result.exempt = True
            return result

        to_undo = [f for f in findings if f.action == "rollback" and f.rule in REMEDY_KIND]
        if not to_undo:
            result.compliant = not result.remedies
            return result
        if current.entry_type in NODE_ENTRY_TYPES:
            refused = RollbackResult(REFUSED, f"refused: {current.entry_type} (node) entries are never rolled back")
            result.remedies += [Remedy(f.rule, f.policy_arn, refused, f, whole_entry=True) for f in to_undo]
            return result

        entry_level = [f for f in to_undo if REMEDY_KIND[f.rule] == ENTRY]
        fields = [f for f in to_undo if REMEDY_KIND[f.rule] == FIELDS]
        if entry_level or (fields and known is None and _born_bad(current, born_bad_at)):
            result.remedies += self._delete_entry(current, entry_level or fields, protected)
            return result
        if fields:
            outcome = self._revert_fields(current, known)
            result.remedies += [Remedy(f.rule, f.policy_arn, outcome, f) for f in fields]
        by_policy: dict[str, list[Finding]] = {}
        for f in to_undo:
            if REMEDY_KIND[f.rule] == ASSOCIATION and f.policy_arn:
                by_policy.setdefault(f.policy_arn, []).append(f)
        for policy, policy_findings in sorted(by_policy.items()):
            outcome = self._fix_association(current, known, policy)
            result.remedies += [Remedy(f.rule, policy, outcome, f) for f in policy_findings]
        return result

    # --- the steps ------------------------------------------------------------------------------

    def _restore_protected(self, current: EntryState, known: EntryState) -> list[Remedy]:
        cluster, principal = current.cluster, current.principal_arn
        if current.entry_type != known.entry_type:
            # e.g. the protected principal recreated as an EC2_LINUX node entry: that entry holds
            # nothing and can hold no policy, so it is replaced by the protected one.
            self.eks.delete_entry(cluster, principal)
            self.eks.create_entry(known)
            detail = f"replaced the {current.entry_type} entry by the protected {known.entry_type} entry with {_policies(known)}"
            return [Remedy("protected-entry", None, _done(detail), whole_entry=True)]
        remedies = []
        if known.entry_type == STANDARD and (current.username, current.groups) != (known.username, known.groups):
            self.eks.update_entry(cluster, principal, username=known.username, groups=known.groups)
            remedies.append(Remedy("protected-entry", None, _done(f"restored username {known.username!r} and groups [{', '.join(known.groups) or 'none'}]")))
        for association in known.associations:
            if current.association(association.policy_arn) != association:
                self.eks.associate(cluster, principal, association)
                remedies.append(Remedy("protected-entry", association.policy_arn, _done(f"associated {association.describe()} again")))
        return remedies

    def _delete_entry(self, current: EntryState, findings: list[Finding], protected: bool) -> list[Remedy]:
        if protected:
            outcome = RollbackResult(REFUSED, "refused: the principal is on protected-entry's list; its entry is never deleted (fix the config or the entry by hand)")
        else:
            refusal = lockout_refusal(self.eks, current.cluster, Removal(current.principal_arn))
            if refusal:
                outcome = RollbackResult(REFUSED, refusal)
            elif self.eks.delete_entry(current.cluster, current.principal_arn):
                outcome = _done(f"deleted the access entry of {current.principal_arn}")
            else:
                outcome = RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
        return [Remedy(f.rule, f.policy_arn, outcome, f, whole_entry=True) for f in findings]

    def _revert_fields(self, current: EntryState, known: EntryState | None) -> RollbackResult:
        if known is None:
            return RollbackResult(NOT_UNDONE, "not undone: the ledger has no earlier state of this entry (run the sweep to fill it)")
        if (current.username, current.groups) == (known.username, known.groups):
            return RollbackResult(ALREADY_UNDONE, "the entry already has its previous username and groups")
        if not self.eks.update_entry(current.cluster, current.principal_arn, username=known.username, groups=known.groups):
            return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
        return _done(f"restored username {known.username!r} and groups [{', '.join(known.groups) or 'none'}]")

    def _fix_association(self, current: EntryState, known: EntryState | None, policy: str) -> RollbackResult:
        name = policy_name(policy)
        present = current.association(policy)
        if present is None:
            return RollbackResult(ALREADY_UNDONE, f"{name} is no longer associated")
        previous = known.association(policy) if known else None
        if previous == present:
            previous = None  # the ledger never saw another scope: nothing to restore, so remove
        refusal = lockout_refusal(self.eks, current.cluster, Removal(current.principal_arn, policy, replacement=previous))
        if refusal:
            return RollbackResult(REFUSED, refusal)
        if previous is not None:
            self.eks.associate(current.cluster, current.principal_arn, previous)
            return _done(f"restored the previous scope: {previous.describe()}")
        if not self.eks.disassociate(current.cluster, current.principal_arn, policy):
            return RollbackResult(ALREADY_UNDONE, f"{name} is no longer associated")
        return _done(f"disassociated {name} from {current.principal_arn}")


def acceptable(entry: EntryState, org: OrgRules, account: str, region: str, known: EntryState | None, state: ObservedState | None = None) -> bool:
    """Whether the ledger may keep `entry` as the last known good state.

    No rule asks for a rollback of it, and a protected entry is not weaker than the state
    the ledger already holds (it must never overwrite its own restore point with less).
    """
    findings = _state_findings(entry, org, account, region, state or ObservedState(entry_type=entry.entry_type))
    if not all(f.exempt or f.configured_action == "alert" for f in findings):
        return False
    if known is not None and matches_any(protected_principals(org), entry.principal_arn):
        if entry.entry_type != known.entry_type or (entry.username, entry.groups) != (known.username, known.groups):
            return False
        return all(entry.association(a.policy_arn) == a for a in known.associations)
    return True


def _state_findings(entry: EntryState, org: OrgRules, account: str, region: str, state: ObservedState) -> list[Finding]:
    from ..sweep.judge import entry_as_changes

    return [f for change in entry_as_changes(entry, account, region) for f in evaluate(change, org, state)]


def _exempt(entry: EntryState, org: OrgRules, account: str, region: str, state: ObservedState) -> bool:
    from ..engine import exemption_for
    from ..sweep.judge import entry_as_changes

    return exemption_for(entry_as_changes(entry, account, region)[0], org, state) is not None


def _born_bad(current: EntryState, born_bad_at: datetime | None) -> bool:
    """The entry is the one whose create event was the violation (not recreated since)."""
    if born_bad_at is None or current.created_at is None:
        return born_bad_at is not None
    return (current.created_at - born_bad_at).total_seconds() <= 1


def _after_restore(current: EntryState, known: EntryState) -> EntryState:
    """The entry as `_restore_protected` left it (same type): the ledger's username, groups and
    associations put back, any other association kept (what the rules judge next)."""
    restored = {a.policy_arn: a for a in current.associations} | {a.policy_arn: a for a in known.associations}
    current = replace(current, associations=tuple(restored.values()))
    return replace(current, username=known.username, groups=known.groups) if known.entry_type == STANDARD else current


def _done(detail: str) -> RollbackResult:
    return RollbackResult(ROLLED_BACK, detail)


def _policies(entry: EntryState) -> str:
    return ", ".join(a.describe() for a in entry.associations) or "no policies"


def state_finding(rule: str, entry: EntryState, org: OrgRules, account: str, region: str, message: str) -> Finding:
    """A finding about the state of an entry (for a remedy no event finding answers)."""
    from ..sweep.judge import entry_as_changes

    return make_finding(rule, entry_as_changes(entry, account, region)[0], org, Violation(message, principal_arn=entry.principal_arn))
