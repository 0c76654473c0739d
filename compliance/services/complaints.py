"""Complaints: a diner files one from an order; the store acknowledges and proposes a solution;
the diner (or the platform) closes it. Deadlines from the field's service standards: acknowledged
within 1 hour, a solution proposed within 24 hours, closed within 48 hours of filing.

Each breached deadline escalates exactly once (`complaints_escalate`, a Celery beat sweep): the
escalation is appended to `Complaint.escalations` by a conditional UPDATE that only matches rows
not yet escalated for that deadline, so overlapping or repeated sweeps do nothing more. An
escalation tells the store's board and the diner. A food-safety complaint opens a case in the
regulators' queue as it is filed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.access import STORE_ROLES_ALL, access_operator, access_store
from accounts.models import User
from compliance.models import Complaint, ComplaintPhoto
from core.realtime import event_push_on_commit, group_for_store, group_for_user
from delivery.models import Order
from delivery.services.aftersales import PHOTOS_MAX, AftersalesRefused, photo_format

S = Complaint.Status
ACKNOWLEDGE_WITHIN = timedelta(hours=1)
SOLUTION_WITHIN = timedelta(hours=24)
CLOSE_WITHIN = timedelta(hours=48)
TEXT_MAX = 2000


@dataclass(frozen=True)
class Deadline:
    """One deadline of a complaint: which, by when, which states have met it."""

    name: str  # the escalation's name: "acknowledge", "solution", "close"
    field: str  # the Complaint field holding its time
    met_by: frozenset[str]


DEADLINES = (
    Deadline("acknowledge", "acknowledge_by", frozenset({S.ACKNOWLEDGED, S.SOLUTION_PROPOSED, S.CLOSED})),
    Deadline("solution", "solution_by", frozenset({S.SOLUTION_PROPOSED, S.CLOSED})),
    Deadline("close", "close_by", frozenset({S.CLOSED})),
)


class ComplaintRefused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def _push(complaint: Complaint, event: str, **extra: object) -> None:
    payload = {"complaint": complaint.pk, "order": complaint.order_id, "status": complaint.status, **extra}
    event_push_on_commit(group_for_store(complaint.store_id), event, payload)
    if complaint.diner_id is not None:
        event_push_on_commit(group_for_user(complaint.diner_id), event, payload)


def complaint_file(
    *,
    diner: User,
    order: Order,
    category: str,
    text: str,
    photos: Sequence[UploadedFile[bytes]] = (),
    now: datetime | None = None,
) -> Complaint:
    """The order's diner files a complaint about it, with up to PHOTOS_MAX photos checked by
    content (JPEG, PNG or WebP, at most 5 MB, as refund photos are) and stored under random names.
    Sets the three deadlines. A food-safety complaint opens a case for the store's regulators in
    the same transaction (the case's opening is idempotent per complaint)."""
    from compliance.cases.services import case_open

    if order.diner_id != diner.pk:
        raise ComplaintRefused("not_found", "No such order.", status=404)
    if category not in Complaint.Category.values:
        raise ComplaintRefused("invalid_category", "Choose what the complaint is about.", field="category")
    text = (text or "").strip()
    if not text:
        raise ComplaintRefused("text_required", "Say what happened.", field="text")
    if len(text) > TEXT_MAX:
        raise ComplaintRefused("text_too_long", f"At most {TEXT_MAX} characters.", field="text")
    if len(photos) > PHOTOS_MAX:
        raise ComplaintRefused("too_many_photos", f"Add at most {PHOTOS_MAX} photos.", field="photos")
    try:
        extensions = [photo_format(photo) for photo in photos]
    except AftersalesRefused as refused:
        raise ComplaintRefused(refused.code, refused.message, field="photos") from refused
    now = now or timezone.now()
    stored: list[ComplaintPhoto] = []
    try:
        with transaction.atomic():
            complaint = Complaint.objects.create(
                store_id=order.store_id,
                order=order,
                diner=diner,
                category=category,
                text=text,
                filed_at=now,
                acknowledge_by=now + ACKNOWLEDGE_WITHIN,
                solution_by=now + SOLUTION_WITHIN,
                close_by=now + CLOSE_WITHIN,
            )
            for photo, extension in zip(photos, extensions, strict=True):
                row = ComplaintPhoto(complaint=complaint)
                row.image.save(f"{uuid.uuid4().hex}.{extension}", photo, save=False)
                stored.append(row)
                row.save()
            if category == Complaint.Category.FOOD_SAFETY:
                case_open(
                    actor=None,
                    store=order.store,
                    title=f"Food-safety complaint on order {order.number}",
                    source="complaint",
                    complaint=complaint,
                )
            _push(complaint, "complaint.filed", category=category)
    except BaseException:
        for row in stored:
            row.image.delete(save=False)
        raise
    return complaint


def _store_move(
    *, user: User, complaint: Complaint, from_: set[str], to: str, fields: dict[str, object], now: datetime
) -> Complaint:
    if not access_store(user, complaint.store, roles=STORE_ROLES_ALL):
        raise ComplaintRefused("not_found", "No such complaint.", status=404)
    with transaction.atomic():
        moved = Complaint.objects.filter(pk=complaint.pk, status__in=from_).update(status=to, updated_at=now, **fields)
        complaint.refresh_from_db()
        if not moved and complaint.status != to:
            raise ComplaintRefused(
                "complaint_state_conflict", f"The complaint is {complaint.status}; it cannot become {to}.", status=409
            )
        if moved:
            _push(complaint, "complaint.updated")
    return complaint


def complaint_acknowledge(*, user: User, complaint: Complaint, now: datetime | None = None) -> Complaint:
    """The store says it has seen the complaint (idempotent)."""
    now = now or timezone.now()
    return _store_move(
        user=user, complaint=complaint, from_={S.OPEN}, to=S.ACKNOWLEDGED, fields={"acknowledged_at": now}, now=now
    )


def complaint_solution_propose(
    *, user: User, complaint: Complaint, solution: str, now: datetime | None = None
) -> Complaint:
    """The store proposes a solution (acknowledging the complaint if it had not)."""
    solution = (solution or "").strip()
    if not solution:
        raise ComplaintRefused("text_required", "Describe the solution.", field="solution")
    if len(solution) > TEXT_MAX:
        raise ComplaintRefused("text_too_long", f"At most {TEXT_MAX} characters.", field="solution")
    now = now or timezone.now()
    return _store_move(
        user=user,
        complaint=complaint,
        from_={S.OPEN, S.ACKNOWLEDGED},
        to=S.SOLUTION_PROPOSED,
        fields={
            "solution": solution,
            "solution_proposed_at": now,
            "acknowledged_at": Coalesce(F("acknowledged_at"), Value(now)),
        },
        now=now,
    )


def complaint_close(*, user: User, complaint: Complaint, now: datetime | None = None) -> Complaint:
    """The diner who filed it, or a platform operator, closes the complaint (idempotent)."""
    if not (complaint.diner_id == user.pk and user.is_active) and not access_operator(user):
        raise ComplaintRefused("not_found", "No such complaint.", status=404)
    now = now or timezone.now()
    with transaction.atomic():
        moved = (
            Complaint.objects.filter(pk=complaint.pk)
            .exclude(status=S.CLOSED)
            .update(status=S.CLOSED, closed_at=now, updated_at=now)
        )
        complaint.refresh_from_db()
        if moved:
            _push(complaint, "complaint.updated")
    return complaint


def complaints_escalate(*, now: datetime | None = None) -> int:
    """Escalate every breached deadline once. For each deadline: the complaints past it, not in a
    state that meets it, and not yet escalated for it get its name appended, in one conditional
    UPDATE per deadline (so a rerun, or two sweeps at once, escalate nothing twice). Returns how
    many escalations it recorded."""
    now = now or timezone.now()
    total = 0
    for deadline in DEADLINES:
        due = Q(**{f"{deadline.field}__lt": now}) & ~Q(status__in=deadline.met_by)
        not_yet = ~Q(escalations__contains=[deadline.name])
        with transaction.atomic():
            ids = list(
                Complaint.objects.filter(due & not_yet).select_for_update(skip_locked=True).values_list("pk", flat=True)
            )
            if not ids:
                continue
            total += (
                Complaint.objects.filter(pk__in=ids)
                .filter(not_yet)
                .update(
                    escalations=Func(
                        F("escalations"),
                        Value(deadline.name),
                        function="array_append",
                        output_field=ArrayField(models.CharField(max_length=20)),
                    ),
                    updated_at=now,
                )
            )
            for complaint in Complaint.objects.filter(pk__in=ids):
                _push(complaint, "complaint.escalated", deadline=deadline.name)
    return total


def complaint_refer(*, operator: User, complaint: Complaint) -> Any:
    """A platform operator hands an escalated complaint to the regulators of its store's district:
    a case opened by the platform (one per complaint: a second referral returns the open case)."""
    from compliance.cases.models import Case
    from compliance.cases.services import case_open

    if not access_operator(operator):
        raise ComplaintRefused("not_found", "No such complaint.", status=404)
    title = f"{complaint.get_category_display()}: {complaint.store}"
    return case_open(actor=None, store=complaint.store, title=title, source=Case.Source.COMPLAINT, complaint=complaint)
