"""Compliance in Django's admin: every record listed; verification through the services; the
rows whose state a service owns are read-only; no one but staff gets in."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from compliance.models import (
    Complaint,
    Flag,
    HealthCertificate,
    LegalEntity,
    Licence,
    Sanction,
    StaffMember,
    StoreRegistration,
    Verification,
)
from delivery.models import Store
from delivery.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db
MODELS = (
    "legalentity",
    "storeregistration",
    "licence",
    "staffmember",
    "healthcertificate",
    "sanction",
    "complaint",
    "flag",
)


@pytest.fixture
def records(db: None) -> dict[str, object]:
    store: Store = StoreFactory()
    entity = LegalEntity.objects.create(name="上海某某餐饮有限公司", uscc="91310106MA1FL2XQ0X")
    StoreRegistration.objects.create(store=store, entity=entity)
    licence = Licence.objects.create(kind=Licence.Kind.FOOD_BUSINESS, number="JY23101060012345", store=store)
    member = StaffMember.objects.create(store=store, name="王帮厨")
    certificate = HealthCertificate.objects.create(staff=member, number="HC1", valid_to=timezone.localdate())
    sanction = Sanction.objects.create(kind="warning", store=store, decided_on=timezone.localdate())
    complaint = Complaint.objects.create(store=store, category="late", filed_at=timezone.now())
    now = timezone.now()
    flag = Flag.objects.create(code="LICENCE_EXPIRED", store=store, severity="high", raised_at=now, evaluated_at=now)
    return {
        "licence": licence,
        "certificate": certificate,
        "sanction": sanction,
        "entity": entity,
        "complaint": complaint,
        "flag": flag,
    }


@pytest.fixture
def staff_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_each_record_is_listed_and_opens(staff_client: Client, records: dict[str, object], model: str) -> None:
    record = apps.get_model("compliance", model).objects.first()
    assert record is not None, f"the fixture made no {model}"
    change = reverse(f"admin:compliance_{model}_change", args=[record.pk])
    response = staff_client.get(reverse(f"admin:compliance_{model}_changelist"))
    assert response.status_code == 200
    assert change in response.content.decode()  # listed, with a link to its page
    assert staff_client.get(change).status_code == 200  # which opens


def test_verifying_in_the_admin_goes_through_the_services(
    staff_client: Client, records: dict[str, object], admin_user: User
) -> None:
    licence, certificate = records["licence"], records["certificate"]
    assert isinstance(licence, Licence) and isinstance(certificate, HealthCertificate)
    response = staff_client.post(
        reverse("admin:compliance_licence_changelist"), {"action": "verify", "_selected_action": [licence.pk]}
    )
    assert response.status_code == 302
    licence.refresh_from_db()
    assert licence.verification == Verification.VERIFIED and licence.verified_by == admin_user
    assert licence.verified_at is not None
    staff_client.post(
        reverse("admin:compliance_healthcertificate_changelist"),
        {"action": "verify", "_selected_action": [certificate.pk]},
    )
    certificate.refresh_from_db()
    assert certificate.verification == Verification.VERIFIED and certificate.verified_by == admin_user


def test_verification_cannot_be_typed_into_the_form(staff_client: Client, records: dict[str, object]) -> None:
    licence = records["licence"]
    assert isinstance(licence, Licence)
    page = staff_client.get(reverse("admin:compliance_licence_change", args=[licence.pk])).content.decode()
    assert 'name="verification"' not in page
    # Nor the number or dates: a changed licence goes back under review, through its service.
    assert 'name="number"' not in page and 'name="valid_to"' not in page


@pytest.mark.parametrize("key, model", [("sanction", "sanction"), ("complaint", "complaint"), ("flag", "flag")])
def test_service_owned_rows_are_read_only(
    staff_client: Client, records: dict[str, object], key: str, model: str
) -> None:
    obj = records[key]
    assert isinstance(obj, Sanction | Complaint | Flag)
    assert staff_client.get(reverse(f"admin:compliance_{model}_add")).status_code == 403
    assert (
        staff_client.post(reverse(f"admin:compliance_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code
        == 403
    )
    change = reverse(f"admin:compliance_{model}_change", args=[obj.pk])
    assert staff_client.get(change).status_code == 200  # viewable
    assert staff_client.post(change, {}).status_code == 403  # never changed here
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_an_outsider_is_sent_to_the_admin_login(outsider: User, records: dict[str, object]) -> None:
    client = Client()
    client.force_login(outsider)
    response = client.get(reverse("admin:compliance_licence_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    licence = records["licence"]
    assert isinstance(licence, Licence)
    client.post(reverse("admin:compliance_licence_changelist"), {"action": "verify", "_selected_action": [licence.pk]})
    licence.refresh_from_db()
    assert licence.verification == Verification.PENDING
