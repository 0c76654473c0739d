"""Health certificates: reminders at 30, 7 and 1 days, each once; the courier's go-online gate."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail

from accounts.models import User
from compliance.models import Verification
from compliance.selectors import courier_may_go_online, couriers_with_valid_certificate_q
from compliance.services.certificates import (
    CertificateRefused,
    courier_certificate_submit,
    health_certificate_reminders_send,
    health_certificate_verify,
)
from compliance.tests.factories import staff_certificate
from delivery.models import Store, StoreMembership
from dispatch.models import Courier
from dispatch.tests.factories import CourierFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 23)


def _send(capture: Callable[..., Any], day: datetime.date) -> int:
    with capture(execute=True):
        return health_certificate_reminders_send(today=day)


def test_reminders_at_30_7_and_1_days_each_once(
    owner: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    store = StoreMembership.objects.get(user=owner).store
    cert = staff_certificate(store, valid_to=TODAY + datetime.timedelta(days=30))

    assert _send(django_capture_on_commit_callbacks, TODAY - datetime.timedelta(days=1)) == 0  # 31 days left
    assert _send(django_capture_on_commit_callbacks, TODAY) == 1
    assert _send(django_capture_on_commit_callbacks, TODAY) == 0  # a rerun sends nothing
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=10)) == 0
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=23)) == 1  # 7 days left
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=24)) == 0
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=29)) == 1  # 1 day left
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=29)) == 0
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=31)) == 0  # ended
    cert.refresh_from_db()
    assert cert.reminders_sent == [1, 7, 30]
    assert len(mail.outbox) == 3
    assert mail.outbox[0].to == ["owner@example.com"] and cert.number in mail.outbox[0].subject


def test_a_late_sweep_sends_only_the_nearest_reminder(
    store: Store, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    cert = staff_certificate(store, valid_to=TODAY + datetime.timedelta(days=5))
    assert _send(django_capture_on_commit_callbacks, TODAY) == 1  # the 7-day one; 30 is marked too
    assert _send(django_capture_on_commit_callbacks, TODAY + datetime.timedelta(days=1)) == 0
    cert.refresh_from_db()
    assert cert.reminders_sent == [7, 30]


def test_courier_gate_needs_a_verified_valid_certificate(courier: Courier, operator: User) -> None:
    courier.health_certificates.all().delete()  # the persona comes certified
    other = CourierFactory(certified=False)
    assert not courier_may_go_online(courier, on=TODAY)
    cert = courier_certificate_submit(
        user=courier.user, courier=courier, number="HC-C-1", valid_from=TODAY - datetime.timedelta(days=10), scan=None
    )
    assert cert.valid_to == TODAY + datetime.timedelta(days=355)
    assert not courier_may_go_online(courier, on=TODAY)  # not verified yet
    health_certificate_verify(operator=operator, certificate=cert)
    assert courier_may_go_online(courier, on=TODAY)
    assert not courier_may_go_online(courier, on=TODAY + datetime.timedelta(days=356))  # expired
    ids = set(Courier.objects.filter(couriers_with_valid_certificate_q(on=TODAY)).values_list("pk", flat=True))
    assert ids == {courier.pk} and other.pk not in ids


def test_a_rejected_certificate_does_not_open_the_gate(courier: Courier, operator: User) -> None:
    from compliance.services.certificates import health_certificate_reject

    courier.health_certificates.all().delete()  # the persona comes certified
    cert = courier_certificate_submit(user=courier.user, courier=courier, number="X", valid_from=TODAY, scan=None)
    health_certificate_reject(operator=operator, certificate=cert)
    assert cert.verification == Verification.REJECTED
    assert not courier_may_go_online(courier, on=TODAY)


def test_only_the_courier_submits_and_only_operators_verify(courier: Courier, outsider: User) -> None:
    with pytest.raises(CertificateRefused):
        courier_certificate_submit(user=outsider, courier=courier, number="X", valid_from=TODAY, scan=None)
    cert = courier_certificate_submit(user=courier.user, courier=courier, number="X", valid_from=TODAY, scan=None)
    for user in (outsider, courier.user):
        with pytest.raises(CertificateRefused):
            health_certificate_verify(operator=user, certificate=cert)


def test_dispatch_keeps_a_courier_without_a_certificate_offline_and_unoffered(db: None) -> None:
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from dispatch.selectors import couriers_available
    from dispatch.services.couriers import courier_go_online
    from dispatch.transitions import TransitionRefused

    # Given two couriers at the same spot, one without a health certificate
    certified = CourierFactory()
    uncertified = CourierFactory(certified=False)

    # Then only the certified one may go online
    with pytest.raises(TransitionRefused) as refused:
        courier_go_online(courier=uncertified, actor=uncertified.user)
    assert refused.value.code == "health_certificate_required"
    assert courier_go_online(courier=certified, actor=certified.user).changed

    # And even if the other were idle with a fresh position, dispatch would not offer it work
    for c in (certified, uncertified):
        Courier.objects.filter(pk=c.pk).update(
            state=Courier.State.IDLE, position=Point(121.45, 31.23, srid=4326), position_at=timezone.now()
        )
    assert set(couriers_available().values_list("pk", flat=True)) == {certified.pk}
