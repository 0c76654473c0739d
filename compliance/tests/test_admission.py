"""Strict admission and licence review: who verifies, when a store goes back under review."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from compliance.models import Licence, Verification
from compliance.services.licences import (
    LicenceRefused,
    admission_licence_blockers,
    licence_reject,
    licence_scan_upload,
    licence_submit,
    licence_verify,
)
from compliance.tests.factories import licensed
from delivery.models import Store, StoreMembership
from delivery.services import stores
from delivery.services.stores import StoreRefused, store_admit
from delivery.tests.factories import build_menu_store

pytestmark = pytest.mark.django_db
S = Store.Status
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_the_licence_check_is_registered() -> None:
    assert admission_licence_blockers in stores.ADMISSION_CHECKS


def test_a_store_without_verified_licences_is_not_admitted(operator: User) -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    licensed(store, verified=False)
    with pytest.raises(StoreRefused) as refused:
        store_admit(operator=operator, store=store)
    assert refused.value.code == "admission_blocked"
    assert set(refused.value.reasons) == {
        "The entity's business licence is not verified and valid.",
        "The store's food-business licence is not verified and valid.",
    }
    store.refresh_from_db()
    assert store.status == S.PENDING_REVIEW


def test_verified_and_valid_licences_admit(operator: User) -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    licensed(store, verified=False)
    for licence in Licence.objects.all():
        licence_verify(operator=operator, licence=licence)
    store_admit(operator=operator, store=store)
    store.refresh_from_db()
    assert store.status == S.LIVE


def test_an_expired_verified_licence_blocks(operator: User) -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    licensed(store, valid_to=timezone.localdate() - datetime.timedelta(days=1))
    assert admission_licence_blockers(store) == ["The store's food-business licence is not verified and valid."]


def test_a_store_without_entity_is_blocked() -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    assert "The store has no legal entity with a business licence." in admission_licence_blockers(store)


def test_operator_verifies_with_who_and_when_and_rejects_with_reason(operator: User) -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    licensed(store, verified=False)
    food = Licence.objects.get(kind=Licence.Kind.FOOD_BUSINESS)
    business = Licence.objects.get(kind=Licence.Kind.BUSINESS)
    licence_verify(operator=operator, licence=food)
    assert food.verification == Verification.VERIFIED and food.verified_by == operator and food.verified_at
    licence_verify(operator=operator, licence=food)  # a second click: no change, no error
    with pytest.raises(LicenceRefused) as refused:
        licence_reject(operator=operator, licence=food, note="假证")
    assert refused.value.code == "licence_state_conflict"
    with pytest.raises(LicenceRefused):
        licence_reject(operator=operator, licence=business, note="  ")
    licence_reject(operator=operator, licence=business, note="照片模糊")
    assert business.verification == Verification.REJECTED and business.review_note == "照片模糊"


def test_only_operators_review(owner: User, outsider: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store, verified=False)
    licence = Licence.objects.get(kind=Licence.Kind.FOOD_BUSINESS)
    for user in (owner, outsider):
        with pytest.raises(LicenceRefused) as refused:
            licence_verify(operator=user, licence=licence)
        assert refused.value.status == 404
    licence.refresh_from_db()
    assert licence.verification == Verification.PENDING


def test_a_changed_food_licence_sends_a_live_store_back_for_7_day_review(owner: User, tmp_path: Path) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store)
    assert store.status == S.LIVE
    with override_settings(MEDIA_ROOT=tmp_path):
        licence = licence_submit(
            user=owner,
            store=store,
            kind=Licence.Kind.FOOD_BUSINESS,
            number="JY23101060099991",
            valid_from=datetime.date(2026, 1, 1),
            valid_to=datetime.date(2031, 1, 1),
            scan=SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf"),
        )
    store.refresh_from_db()
    assert store.status == S.PENDING_REVIEW
    assert licence.verification == Verification.PENDING
    assert licence.review_due_at is not None
    due_in = licence.review_due_at - timezone.now()
    assert datetime.timedelta(days=6, hours=23) < due_in <= datetime.timedelta(days=7)
    assert str(licence.scan.name).endswith(".pdf")


def test_a_malformed_licence_number_is_refused(owner: User) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store)
    with pytest.raises(LicenceRefused) as refused:
        licence_submit(
            user=owner, store=store, kind="food_business", number="JY9310106", valid_from=None, valid_to=None
        )
    assert refused.value.field == "number"
    store.refresh_from_db()
    assert store.status == S.LIVE


def test_an_outsider_cannot_submit_or_upload(outsider: User, store: Store) -> None:
    licensed(store)
    with pytest.raises(LicenceRefused) as refused:
        licence_submit(
            user=outsider, store=store, kind="food_business", number="JY23101060099991", valid_from=None, valid_to=None
        )
    assert refused.value.status == 404
    with pytest.raises(LicenceRefused):
        licence_scan_upload(user=outsider, licence=Licence.objects.all()[0], scan=io.BytesIO(PDF))


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"MZ\x90\x00 not a scan", "scan_type"), (b"", "scan_empty"), (PDF + b"0" * 2048, "scan_too_large")],
)
def test_scans_are_checked_for_type_and_size(owner: User, content: bytes, code: str, tmp_path: Path) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store)
    licence = Licence.objects.get(kind=Licence.Kind.FOOD_BUSINESS)
    with override_settings(MEDIA_ROOT=tmp_path, COMPLIANCE_SCAN_MAX_BYTES=2048), pytest.raises(LicenceRefused) as e:
        licence_scan_upload(user=owner, licence=licence, scan=SimpleUploadedFile("x.pdf", content))
    assert e.value.code == code
    licence.refresh_from_db()
    assert licence.verification == Verification.VERIFIED and not licence.scan


def test_an_uploaded_scan_is_stored_and_reviewed_again(owner: User, tmp_path: Path) -> None:
    store = StoreMembership.objects.get(user=owner).store
    licensed(store)
    licence = Licence.objects.get(kind=Licence.Kind.FOOD_BUSINESS)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with override_settings(MEDIA_ROOT=tmp_path):
        licence_scan_upload(user=owner, licence=licence, scan=SimpleUploadedFile("scan.png", png))
        assert licence.scan.name and licence.scan.storage.exists(licence.scan.name)
    assert licence.verification == Verification.PENDING and licence.review_due_at is not None
