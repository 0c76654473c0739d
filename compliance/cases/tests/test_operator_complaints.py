"""The operator's page of escalated complaints: breached deadlines listed, closed or referred to
the regulators through the complaint services; nobody else gets in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from compliance.cases.models import Case
from compliance.cases.tests.conftest import place_order
from compliance.models import Complaint
from compliance.services.complaints import complaint_file, complaints_escalate
from delivery.models import Store
from delivery.tests.factories import MenuStore

pytestmark = pytest.mark.django_db


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def escalated(menu: MenuStore, shop: Store, diner: User) -> tuple[Complaint, Complaint]:
    """A late complaint filed 30 hours ago (acknowledge and solution deadlines breached, swept),
    and a fresh one that has breached nothing."""
    now = timezone.now()
    old = complaint_file(
        diner=diner,
        order=place_order(menu, diner, key="a", paid=True),
        category="late",
        text="Cold noodles",
        now=now - timedelta(hours=30),
    )
    fresh = complaint_file(
        diner=diner,
        order=place_order(menu, diner, key="b", paid=True),
        category="late",
        text="Slightly late",
        now=now,
    )
    assert complaints_escalate(now=now) >= 2
    return old, fresh


def test_the_operator_sees_breached_deadlines_and_closes_or_refers(
    operator: User, escalated: tuple[Complaint, Complaint]
) -> None:
    old, fresh = escalated
    client, url = _client(operator), reverse("frontend:operator_complaints")
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-complaint="{old.pk}"' in html and f'data-complaint="{fresh.pk}"' not in html
    old.refresh_from_db()
    assert timezone.localtime(old.acknowledge_by).strftime("%Y-%m-%d %H:%M") in html
    assert timezone.localtime(old.solution_by).strftime("%Y-%m-%d %H:%M") in html

    act = reverse("frontend:operator_complaint_act", args=[old.pk])
    assert client.post(act, {"action": "refer"}).status_code == 302
    assert client.post(act, {"action": "refer"}).status_code == 302  # one case, however often
    case = Case.objects.get(complaint=old)
    assert case.source == Case.Source.COMPLAINT and case.events.filter(action="open").count() == 1
    assert b'data-testid="referred"' in client.get(url).content

    assert client.post(act, {"action": "close"}).status_code == 302
    old.refresh_from_db()
    assert old.status == Complaint.Status.CLOSED and old.closed_at is not None
    assert b'data-testid="operator-complaints-empty"' in client.get(url).content
    assert client.post(act, {"action": "close"}).status_code == 302  # idempotent


def test_outsider_store_owner_and_regulator_are_refused(
    outsider: User, shop_owner: User, regulator: User, escalated: tuple[Complaint, Complaint]
) -> None:
    old, _fresh = escalated
    act = reverse("frontend:operator_complaint_act", args=[old.pk])
    for user in (outsider, shop_owner, regulator):
        client = _client(user)
        assert client.get(reverse("frontend:operator_complaints")).status_code == 403
        assert client.post(act, {"action": "close"}).status_code == 403
        assert client.post(act, {"action": "refer"}).status_code == 403
    assert _client(None).get(reverse("frontend:operator_complaints")).status_code == 302
    old.refresh_from_db()
    assert old.status != Complaint.Status.CLOSED and not Case.objects.filter(complaint=old).exists()
