"""Case workflow: every write on a regulator's case, each a compare-and-swap with an audit row.

States (one table, `TRANSITIONS`): open -> triage -> review -> notice -> decision -> appeal ->
closed; a case may be dismissed (closed) from open, triage or review. Regulators act only on
cases whose store stands in their district (`access_regulator_store`); the store's owner or
manager files the defence (before `defence_due_at`) and the appeal (before `appeal_due_at`).

Each move is `_move`: UPDATE ... WHERE status = <from> AND version = <read>, so two regulators
racing on one case cannot both win; 0 rows and the case already in the target state is an
idempotent success, anything else is refused (409). The same transaction appends a `CaseEvent`
whose hash chains it to the one before (`case_audit_verify` finds the first broken row).

A decision other than "no action" records a sanction (`compliance.services.sanctions`), which
takes effect at once: a suspended or delisted store leaves discovery in the same transaction, and
its unaccepted orders are cancelled and refunded right after it commits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.access import STORE_ROLES_MANAGE, access_regulator_store, access_store
from accounts.models import User
from compliance.cases.models import Case, CaseEvent
from compliance.models import Complaint, Flag, Sanction, StoreRegistration
from compliance.services.sanctions import sanction_record, store_unaccepted_orders_cancel
from delivery.models import Store

C = Case.Status
D = Case.Decision

# from-state -> the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    C.OPEN: frozenset({C.TRIAGE, C.CLOSED}),
    C.TRIAGE: frozenset({C.REVIEW, C.CLOSED}),
    C.REVIEW: frozenset({C.NOTICE, C.CLOSED}),
    C.NOTICE: frozenset({C.DECISION}),
    C.DECISION: frozenset({C.APPEAL, C.CLOSED}),
    C.APPEAL: frozenset({C.CLOSED}),
    C.CLOSED: frozenset(),
}

# The merchant's time to answer a notice (陈述、申辩: the Administrative Penalty Law, art. 44-45,
# gives the party the right to state its case before a decision; 3 working days is the usual
# period in SAMR's procedure rules, art. 58). Regulators may give more.
DEFENCE_DAYS_DEFAULT = 3
DEFENCE_DAYS_MAX = 30
# Administrative Reconsideration Law (2023), art. 20: 60 days from learning of the decision.
APPEAL_DAYS = 60
# Decisions that record a sanction, by the sanction's kind.
SANCTIONING: dict[str, str] = {
    D.WARNING: Sanction.Kind.WARNING,
    D.RECTIFICATION: Sanction.Kind.RECTIFICATION,
    D.SUSPENSION: Sanction.Kind.SUSPENSION,
    D.DELISTING: Sanction.Kind.DELISTING,
    D.DISHONEST_LIST: Sanction.Kind.DISHONEST_LIST,
}
TEXT_MAX = 4000
GENESIS = "0" * 64


class CaseRefused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


# --- The audit chain -------------------------------------------------------------------------


def _canonical(event: CaseEvent) -> str:
    """The event's content as hashed: sorted keys, no spaces, the time in UTC ISO form."""
    content = {
        "case": event.case_id,
        "seq": event.seq,
        "actor": event.actor_id,
        "actor_role": event.actor_role,
        "action": event.action,
        "from": event.from_status,
        "to": event.to_status,
        "payload": event.payload,
        "at": event.created_at.astimezone(UTC).isoformat(),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: CaseEvent) -> str:
    return hashlib.sha256((event.prev_hash + _canonical(event)).encode()).hexdigest()


def _audit_append(
    case: Case,
    *,
    actor: User | None,
    actor_role: str,
    action: str,
    from_status: str = "",
    to_status: str = "",
    payload: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one event; the caller holds the case's row lock (its CAS update or select_for_update),
    so appends to one case are serialised and seq has no gaps."""
    head = Case.objects.values("audit_seq", "audit_head").get(pk=case.pk)
    event = CaseEvent(
        case_id=case.pk,
        seq=head["audit_seq"] + 1,
        actor=actor,
        actor_role=actor_role,
        action=action,
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
        # Microseconds survive PostgreSQL's timestamptz, so the hash recomputes from the row.
        created_at=timezone.now(),
        prev_hash=head["audit_head"] or GENESIS,
    )
    event.hash = event_hash(event)
    event.save()
    Case.objects.filter(pk=case.pk).update(audit_seq=event.seq, audit_head=event.hash)
    return event


@dataclass(frozen=True)
class AuditBreak:
    seq: int  # the first row that is missing or does not hash to what the chain says
    reason: str  # "missing", "edited", "relinked" or "head"


def case_audit_verify(case: Case) -> AuditBreak | None:
    """Recompute the case's chain from its first row: None when intact, else the first break.

    Detects an edited row (its hash no longer matches its content), a deleted row (a gap in seq,
    or a prev_hash that no longer names the row before) and deleted newest rows (the case's head
    no longer matches the last row)."""
    head = Case.objects.values("audit_seq", "audit_head").get(pk=case.pk)
    prev, expected = GENESIS, 1
    for event in CaseEvent.objects.filter(case_id=case.pk).order_by("seq"):
        if event.seq != expected:
            return AuditBreak(seq=expected, reason="missing")
        if event.prev_hash != prev:
            return AuditBreak(seq=event.seq, reason="relinked")
        if event_hash(event) != event.hash:
            return AuditBreak(seq=event.seq, reason="edited")
        prev, expected = event.hash, expected + 1
    if head["audit_seq"] != expected - 1 or (head["audit_head"] or GENESIS) != prev:
        return AuditBreak(seq=expected, reason="head")
    return None


# --- Access ----------------------------------------------------------------------------------


def _regulator(user: User, case: Case) -> None:
    if not access_regulator_store(user, case.store):
        raise CaseRefused("not_found", "No such case.", status=404)


def _merchant(user: User, case: Case) -> None:
    if not access_store(user, case.store, roles=STORE_ROLES_MANAGE):
        raise CaseRefused("not_found", "No such case.", status=404)


def _text(value: str, field: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise CaseRefused("text_required", "This cannot be empty.", field=field)
    if len(value) > TEXT_MAX:
        raise CaseRefused("text_too_long", f"At most {TEXT_MAX} characters.", field=field)
    return value


# --- Moves -----------------------------------------------------------------------------------


def _move(
    case: Case,
    *,
    to: str,
    actor: User | None,
    actor_role: str,
    action: str,
    fields: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    expected_from: frozenset[str] | None = None,
) -> bool:
    """Compare-and-swap the case into `to` and audit it; False if it was already there.
    Call inside a transaction. Refreshes `case`."""
    current = Case.objects.values("status", "version").get(pk=case.pk)
    if current["status"] == to:
        case.refresh_from_db()
        return False
    allowed = can_transition(current["status"], to) and (expected_from is None or current["status"] in expected_from)
    if not allowed:
        raise CaseRefused("case_state_conflict", f"The case is {current['status']}; it cannot become {to}.", status=409)
    moved = Case.objects.filter(pk=case.pk, status=current["status"], version=current["version"]).update(
        status=to, version=F("version") + 1, updated_at=timezone.now(), **(fields or {})
    )
    if not moved:
        case.refresh_from_db()
        if case.status == to:
            return False
        raise CaseRefused("case_state_conflict", f"The case is {case.status}; it cannot become {to}.", status=409)
    _audit_append(
        case,
        actor=actor,
        actor_role=actor_role,
        action=action,
        from_status=current["status"],
        to_status=to,
        payload=payload,
    )
    case.refresh_from_db()
    return True


def _store_entity(store: Store) -> Any:
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    return registration.entity if registration else None


@transaction.atomic
def case_open(
    *,
    actor: User | None,
    store: Store,
    title: str,
    source: str = Case.Source.REGULATOR,
    flag: Flag | None = None,
    complaint: Complaint | None = None,
) -> Case:
    """Open a case on a store: by a regulator of its district (actor), or by the system (actor
    None: a food-safety complaint). A flag or complaint with a case still open returns that case
    (idempotent: reviewing a flag twice opens one case)."""
    if actor is not None and not access_regulator_store(actor, store):
        raise CaseRefused("not_found", "No such store.", status=404)
    title = _text(title, "title")[:200]
    existing = Case.objects.exclude(status=C.CLOSED)
    if flag is not None and (found := existing.filter(flag=flag).first()):
        return found
    if complaint is not None and (found := existing.filter(complaint=complaint).first()):
        return found
    try:
        with transaction.atomic():
            case = Case.objects.create(
                store=store,
                entity=_store_entity(store),
                source=source,
                flag=flag,
                complaint=complaint,
                title=title,
            )
    except IntegrityError:
        # A concurrent open of the same flag or complaint won: return its case.
        found = existing.filter(flag=flag).first() if flag else existing.filter(complaint=complaint).first()
        if found is None:
            raise
        return found
    payload: dict[str, Any] = {"title": title, "source": source}
    if flag is not None:
        payload |= {"flag": flag.pk, "flag_code": flag.code}
    if complaint is not None:
        payload |= {"complaint": complaint.pk}
    _audit_append(
        case,
        actor=actor,
        actor_role="regulator" if actor else "system",
        action="open",
        to_status=C.OPEN,
        payload=payload,
    )
    case.refresh_from_db()
    return case


def case_open_from_flag(*, regulator: User, flag: Flag) -> Case:
    """A regulator takes up an open flag about a store of their district."""
    if flag.store is None:
        raise CaseRefused("flag_without_store", "This flag names no store.")
    if not access_regulator_store(regulator, flag.store):
        raise CaseRefused("not_found", "No such flag.", status=404)
    if flag.status != Flag.Status.OPEN and not Case.objects.filter(flag=flag).exclude(status=C.CLOSED).exists():
        raise CaseRefused("flag_resolved", "This flag has resolved itself; its cause is gone.", status=409)
    return case_open(
        actor=regulator, store=flag.store, title=f"{flag.code}: {flag.store}", source=Case.Source.FLAG, flag=flag
    )


@transaction.atomic
def case_note(*, regulator: User, case: Case, text: str) -> CaseEvent:
    """A regulator's note on the case: an audit row, no move."""
    _regulator(regulator, case)
    text = _text(text, "text")
    Case.objects.select_for_update().get(pk=case.pk)
    return _audit_append(case, actor=regulator, actor_role="regulator", action="note", payload={"text": text})


@transaction.atomic
def case_triage(*, regulator: User, case: Case) -> Case:
    _regulator(regulator, case)
    _move(case, to=C.TRIAGE, actor=regulator, actor_role="regulator", action="triage")
    return case


@transaction.atomic
def case_review(*, regulator: User, case: Case) -> Case:
    _regulator(regulator, case)
    _move(case, to=C.REVIEW, actor=regulator, actor_role="regulator", action="review")
    return case


@transaction.atomic
def case_notice_send(
    *, regulator: User, case: Case, text: str, defence_days: int = DEFENCE_DAYS_DEFAULT, now: datetime | None = None
) -> Case:
    """Tell the merchant what the case holds against it and until when it may answer."""
    _regulator(regulator, case)
    text = _text(text, "text")
    if not 1 <= defence_days <= DEFENCE_DAYS_MAX:
        raise CaseRefused("invalid_days", f"Give 1 to {DEFENCE_DAYS_MAX} days for the defence.", field="defence_days")
    due = (now or timezone.now()) + timedelta(days=defence_days)
    _move(
        case,
        to=C.NOTICE,
        actor=regulator,
        actor_role="regulator",
        action="notice",
        fields={"notice_text": text, "defence_due_at": due},
        payload={"text": text, "defence_due_at": due.astimezone(UTC).isoformat()},
    )
    return case


@transaction.atomic
def case_defence_file(*, user: User, case: Case, text: str, now: datetime | None = None) -> Case:
    """The store's owner or manager answers a notice, once, before its deadline."""
    _merchant(user, case)
    text = _text(text, "text")
    now = now or timezone.now()
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status != C.NOTICE:
        raise CaseRefused("case_state_conflict", "There is no notice to answer on this case.", status=409)
    if locked.defence_filed_at is not None:
        raise CaseRefused("defence_filed", "A defence has been filed already.", status=409)
    if locked.defence_due_at is not None and now > locked.defence_due_at:
        raise CaseRefused("defence_late", "The time to answer this notice has passed.", status=409)
    Case.objects.filter(pk=case.pk).update(defence_text=text, defence_filed_at=now, updated_at=now)
    _audit_append(case, actor=user, actor_role="merchant", action="defence", payload={"text": text})
    case.refresh_from_db()
    return case


def case_decide(
    *,
    regulator: User,
    case: Case,
    decision: str,
    reason: str,
    rectify_by: date | None = None,
    now: datetime | None = None,
) -> Case:
    """Decide a noticed case, once the merchant has answered or its time to answer has passed.

    Any decision but "no action" records a sanction bound to the store's identifiers; a
    suspension, delisting or dishonest listing takes the store out of discovery in the same
    transaction, and its unaccepted orders are cancelled and refunded once that commits."""
    now = now or timezone.now()
    if decision not in D.values:
        raise CaseRefused("invalid_decision", "Choose a decision.", field="decision")
    reason = _text(reason, "reason")
    if decision == D.RECTIFICATION and (rectify_by is None or rectify_by <= timezone.localdate(now)):
        raise CaseRefused("rectify_by_required", "Give a date in the future to rectify by.", field="rectify_by")
    with transaction.atomic():
        _regulator(regulator, case)
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status == C.DECISION and locked.decision == decision:
            case.refresh_from_db()
            return case  # a retried request
        if (
            locked.status == C.NOTICE
            and locked.defence_filed_at is None
            and locked.defence_due_at is not None
            and now < locked.defence_due_at
        ):
            raise CaseRefused(
                "defence_pending", "The merchant may still answer the notice; decide after its deadline.", status=409
            )
        sanction = None
        if decision in SANCTIONING and locked.status == C.NOTICE:
            sanction = sanction_record(
                kind=SANCTIONING[decision],
                store=locked.store,
                decided_by=regulator,
                reason=reason,
                rectify_by=rectify_by,
                today=timezone.localdate(now),
            )
        _move(
            case,
            to=C.DECISION,
            actor=regulator,
            actor_role="regulator",
            action="decide",
            expected_from=frozenset({C.NOTICE}),
            fields={
                "decision": decision,
                "decision_reason": reason,
                "decided_at": now,
                "sanction": sanction,
                "appeal_due_at": now + timedelta(days=APPEAL_DAYS),
            },
            payload={
                "decision": decision,
                "reason": reason,
                "rectify_by": rectify_by.isoformat() if rectify_by else None,
                "sanction": sanction.pk if sanction else None,
            },
        )
    if sanction is not None and sanction.kind in (
        Sanction.Kind.SUSPENSION,
        Sanction.Kind.DELISTING,
        Sanction.Kind.DISHONEST_LIST,
    ):
        store_unaccepted_orders_cancel(store_id=case.store_id, reason=reason, actor=regulator)
    return case


@transaction.atomic
def case_appeal_file(*, user: User, case: Case, text: str, now: datetime | None = None) -> Case:
    """The store's owner or manager appeals a decision before `appeal_due_at`. The sanction
    stays in force while the appeal is heard."""
    _merchant(user, case)
    text = _text(text, "text")
    now = now or timezone.now()
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status == C.DECISION and locked.decision == D.NO_ACTION:
        raise CaseRefused("nothing_to_appeal", "There is nothing to appeal in this decision.", status=409)
    if locked.status == C.DECISION and locked.appeal_due_at is not None and now > locked.appeal_due_at:
        raise CaseRefused("appeal_late", "The time to appeal has passed.", status=409)
    _move(
        case,
        to=C.APPEAL,
        actor=user,
        actor_role="merchant",
        action="appeal",
        fields={"appeal_text": text, "appeal_filed_at": now},
        payload={"text": text},
    )
    return case


def case_appeal_decide(*, regulator: User, case: Case, overturn: bool, reason: str) -> Case:
    """Hear an appeal: uphold (the sanction stands) or overturn (it is lifted); closes the case."""
    from compliance.services.sanctions import sanction_lift

    reason = _text(reason, "reason")
    with transaction.atomic():
        _regulator(regulator, case)
        outcome = Case.AppealOutcome.OVERTURNED if overturn else Case.AppealOutcome.UPHELD
        changed = _move(
            case,
            to=C.CLOSED,
            actor=regulator,
            actor_role="regulator",
            action="appeal_decided",
            expected_from=frozenset({C.APPEAL}),
            fields={"appeal_outcome": outcome, "closed_at": timezone.now()},
            payload={"outcome": outcome, "reason": reason},
        )
        if changed and overturn and case.sanction_id is not None:
            sanction_lift(
                regulator=regulator,
                sanction=Sanction.objects.get(pk=case.sanction_id),
                reason=reason,
                overturned=True,
            )
    return case


@transaction.atomic
def case_close(*, regulator: User, case: Case, reason: str) -> Case:
    """Dismiss a case before notice (open, triage, review) or close a decided one."""
    _regulator(regulator, case)
    reason = _text(reason, "reason")
    _move(
        case,
        to=C.CLOSED,
        actor=regulator,
        actor_role="regulator",
        action="close",
        expected_from=frozenset({C.OPEN, C.TRIAGE, C.REVIEW, C.DECISION}),
        fields={"closed_at": timezone.now()},
        payload={"reason": reason},
    )
    return case


def case_sanction_lift(*, regulator: User, case: Case, reason: str, today: date | None = None) -> Case:
    """Lift the case's sanction (a served suspension), or for a dishonest listing remove it early
    by credit repair (refused before a year has run); audited on the case."""
    from compliance.services.sanctions import sanction_credit_repair, sanction_lift

    reason = _text(reason, "reason")
    with transaction.atomic():
        _regulator(regulator, case)
        Case.objects.select_for_update().get(pk=case.pk)
        case.refresh_from_db()
        sanction = case.sanction
        if sanction is None:
            raise CaseRefused("no_sanction", "This case imposed no sanction.", status=409)
        if sanction.lifted_on is not None:
            return case
        repair = sanction.kind == Sanction.Kind.DISHONEST_LIST
        lift = sanction_credit_repair if repair else sanction_lift
        lift(regulator=regulator, sanction=sanction, reason=reason, today=today)
        _audit_append(
            case,
            actor=regulator,
            actor_role="regulator",
            action="credit_repair" if repair else "sanction_lifted",
            payload={"sanction": sanction.pk, "reason": reason},
        )
    case.refresh_from_db()
    return case
