"""The merchant's compliance page and the operator's admission page, with outsiders refused."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from compliance.models import Flag, Licence, Verification
from compliance.tests.factories import licensed, staff_certificate
from delivery.models import Store, StoreMembership
from delivery.tests.factories import StoreMembershipFactory, build_menu_store

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_merchant_page_shows_papers_expiries_and_flags(owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store, valid_to=timezone.localdate() + datetime.timedelta(days=12))
    staff_certificate(store, valid_to=timezone.localdate() - datetime.timedelta(days=3))
    now = timezone.now()
    Flag.objects.create(
        code="LICENCE_EXPIRING", store=store, severity="low", evidence={}, raised_at=now, evaluated_at=now
    )
    page = _client(owner).get(reverse("frontend:merchant_compliance", args=[store.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="expiring"' in html and "12" in html
    assert 'data-testid="flag-LICENCE_EXPIRING"' in html and "renew it before it expires" in html
    assert "李厨" in html and "Expired" in html


def test_merchant_submits_a_licence_and_the_store_goes_back_under_review(owner: User, tmp_path: Path) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store)
    url = reverse("frontend:merchant_compliance", args=[store.pk])
    with override_settings(MEDIA_ROOT=tmp_path):
        response = _client(owner).post(
            url,
            {
                "kind": "food_business",
                "number": "JY23101060099991",
                "valid_from": "2026-01-01",
                "valid_to": "2031-01-01",
                "scan": SimpleUploadedFile("l.pdf", PDF, content_type="application/pdf"),
            },
        )
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.status == Store.Status.PENDING_REVIEW
    assert Licence.objects.get(number="JY23101060099991").verification == Verification.PENDING


def test_a_bad_number_is_shown_next_to_its_field(owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    response = _client(owner).post(
        reverse("frontend:merchant_compliance", args=[store.pk]), {"kind": "food_business", "number": "JY99"}
    )
    assert response.status_code == 400
    assert 'data-testid="error-number"' in response.content.decode()


def test_outsiders_are_refused_the_merchant_page(outsider: User, owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    url = reverse("frontend:merchant_compliance", args=[store.pk])
    assert _client(outsider).get(url).status_code == 404
    assert _client(outsider).post(url, {"kind": "food_business", "number": "JY23101060099991"}).status_code == 404
    assert Client().get(url).status_code == 302  # anonymous: to the login page


def test_kitchen_staff_see_but_do_not_submit(owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    cook = StoreMembershipFactory(store=store, role=StoreMembership.Role.STAFF).user
    url = reverse("frontend:merchant_compliance", args=[store.pk])
    assert _client(cook).get(url).status_code == 200
    assert _client(cook).post(url, {"kind": "food_business", "number": "JY23101060099991"}).status_code == 403


def test_operator_verifies_and_admits_from_the_admission_page(operator: User) -> None:
    store = build_menu_store(status=Store.Status.PENDING_REVIEW).store
    licensed(store, verified=False)
    Licence.objects.update(review_due_at=timezone.now() + datetime.timedelta(days=7))
    client = _client(operator)
    page = client.get(reverse("frontend:operator_admission"))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-testid="pending-store-{store.pk}"' in html and 'data-testid="review-due"' in html
    assert 'data-testid="blockers"' in html
    for licence in Licence.objects.all():
        client.post(reverse("frontend:operator_licence_review", args=[licence.pk]), {"decision": "verify"})
    assert set(Licence.objects.values_list("verification", flat=True)) == {Verification.VERIFIED}
    assert set(Licence.objects.values_list("verified_by", flat=True)) == {operator.pk}
    client.post(reverse("frontend:operator_store_admit", args=[store.pk]))
    store.refresh_from_db()
    assert store.status == Store.Status.LIVE


def test_outsiders_and_merchants_are_refused_the_admission_page(outsider: User, owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    store.status = Store.Status.PENDING_REVIEW
    store.save()
    licensed(store, verified=False)
    licence = Licence.objects.first()
    assert licence is not None
    for user in (outsider, owner):
        client = _client(user)
        assert client.get(reverse("frontend:operator_admission")).status_code == 403
        review = client.post(reverse("frontend:operator_licence_review", args=[licence.pk]), {"decision": "verify"})
        assert review.status_code == 403
        assert client.post(reverse("frontend:operator_store_admit", args=[store.pk])).status_code == 403
    licence.refresh_from_db()
    assert licence.verification == Verification.PENDING


def test_the_merchant_page_speaks_chinese(owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    page = _client(owner).get(reverse("frontend:merchant_compliance", args=[store.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert "未处理的风险提示" in html and "提交新的或变更的许可证" in html
