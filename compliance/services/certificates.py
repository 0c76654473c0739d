"""Health certificates (健康证) of store staff and couriers: one year of validity, verified by an
operator, reminders 30, 7 and 1 days before the end, each sent at most once."""

from __future__ import annotations

import datetime
import logging
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from accounts.access import STORE_ROLES_MANAGE, access_courier, access_operator
from accounts.models import User
from compliance.models import HealthCertificate, Verification
from compliance.services.scans import ScanRefused, scan_checked_name
from compliance.tasks import schedule_flags_reevaluation
from core.realtime import event_push_on_commit, group_for_user
from delivery.models import StoreMembership
from dispatch.models import Courier

log = logging.getLogger(__name__)

# Days before the end at which the holder is reminded (product.md: 30/7/1).
REMINDER_DAYS = (30, 7, 1)
VALIDITY_DAYS = 365


class CertificateRefused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


@transaction.atomic
def courier_certificate_submit(
    *,
    user: User,
    courier: Courier,
    number: str,
    valid_from: datetime.date,
    scan: UploadedFile[bytes] | IO[bytes] | None,
) -> HealthCertificate:
    """A courier submits their health certificate (valid one year from `valid_from`); it counts
    for the go-online gate once an operator has verified it."""
    if not access_courier(user, courier):
        raise CertificateRefused("not_found", "No such courier.", status=404)
    if not number.strip():
        raise CertificateRefused("invalid", "The certificate number is required.", field="number")
    certificate = HealthCertificate(
        courier=courier,
        number=number.strip()[:40],
        valid_from=valid_from,
        valid_to=valid_from + datetime.timedelta(days=VALIDITY_DAYS),
    )
    if scan is not None:
        try:
            name = scan_checked_name(scan)
        except ScanRefused as error:
            raise CertificateRefused(error.code, error.message, field="scan") from error
        certificate.scan.save(name, scan, save=False)  # type: ignore[arg-type]
    certificate.save()
    return certificate


def _review(*, operator: User, certificate: HealthCertificate, to: str) -> HealthCertificate:
    if not access_operator(operator):
        raise CertificateRefused("not_found", "No such certificate.", status=404)
    moved = HealthCertificate.objects.filter(pk=certificate.pk, verification=Verification.PENDING).update(
        verification=to, verified_by=operator, verified_at=timezone.now()
    )
    certificate.refresh_from_db()
    if not moved and certificate.verification != to:
        raise CertificateRefused(
            "certificate_state_conflict",
            f"The certificate is already {certificate.get_verification_display()}.",
            status=409,
        )
    if moved and certificate.staff_id:
        store_id = certificate.staff.store_id if certificate.staff else None
        if store_id:
            schedule_flags_reevaluation(store_ids=[store_id])
    return certificate


@transaction.atomic
def health_certificate_verify(*, operator: User, certificate: HealthCertificate) -> HealthCertificate:
    """An operator verifies a pending certificate (who and when kept). Idempotent."""
    return _review(operator=operator, certificate=certificate, to=Verification.VERIFIED)


@transaction.atomic
def health_certificate_reject(*, operator: User, certificate: HealthCertificate) -> HealthCertificate:
    return _review(operator=operator, certificate=certificate, to=Verification.REJECTED)


# Raw SQL because the claim must be one atomic statement: it marks every certificate that has
# reached a reminder threshold as reminded at that threshold and every longer one (a sweep that
# was down does not send the 30-day reminder after the 7-day one), only where that threshold is
# not marked yet. Two overlapping sweeps: the second waits on the row locks, re-checks the
# WHERE clause and claims nothing, so no reminder goes out twice. Tested in test_certificates.py.
_CLAIM_SQL = """
UPDATE compliance_healthcertificate
SET reminders_sent = ARRAY(SELECT DISTINCT unnest(reminders_sent || %(marks)s::smallint[]) ORDER BY 1)
WHERE valid_to >= %(today)s AND valid_to <= %(until)s
  AND verification <> 'rejected'
  AND NOT (reminders_sent @> ARRAY[%(days)s]::smallint[])
RETURNING id, valid_to
"""


def health_certificate_reminders_send(*, today: datetime.date | None = None) -> int:
    """Send the due reminders (30, 7 and 1 days before a certificate ends) and return how many.
    Each is claimed before it is sent (at most once, even with overlapping sweeps or reruns);
    the message goes out after the claim commits."""
    day = today or timezone.localdate()
    sent = 0
    for days in sorted(REMINDER_DAYS):  # nearest first: it also marks the longer thresholds
        marks = [d for d in REMINDER_DAYS if d >= days]
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    _CLAIM_SQL,
                    {"marks": marks, "today": day, "until": day + datetime.timedelta(days=days), "days": days},
                )
                claimed = cursor.fetchall()
            for certificate_id, valid_to in claimed:
                transaction.on_commit(
                    lambda cid=certificate_id, end=valid_to, d=days: _remind(cid, end, d)  # type: ignore[misc]
                )
        sent += len(claimed)
    return sent


def _remind(certificate_id: int, valid_to: datetime.date, days: int) -> None:
    """Tell the holder (and, for staff, the store's owners and managers) by e-mail and a push."""
    certificate = HealthCertificate.objects.select_related("staff__store", "courier__user").get(pk=certificate_id)
    users: list[User] = []
    if certificate.courier is not None:
        users.append(certificate.courier.user)
    if certificate.staff is not None:
        if certificate.staff.user is not None:
            users.append(certificate.staff.user)
        users += [
            m.user
            for m in StoreMembership.objects.filter(
                store_id=certificate.staff.store_id, role__in=STORE_ROLES_MANAGE
            ).select_related("user")
        ]
    holder = certificate.courier.user if certificate.courier else certificate.staff.name if certificate.staff else ""
    subject = f"Health certificate {certificate.number} ends on {valid_to.isoformat()}"
    body = (
        f"The health certificate {certificate.number} of {holder} ends on {valid_to.isoformat()} "
        f"(in {days} day(s) or less). Renew it and upload the new one on Mingchu."
    )
    for user in {u.pk: u for u in users}.values():
        event_push_on_commit(
            group_for_user(user.pk),
            "certificate.expiring",
            {"certificate": certificate.pk, "valid_to": valid_to.isoformat(), "days": days},
        )
        if user.email:
            try:
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
            except OSError:
                log.exception("reminder mail to user %s failed", user.pk)
