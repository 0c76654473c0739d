"""Complaints: filing from an order, the store's answers, deadlines escalated once, food safety
reaching the regulators' queue."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import User
from compliance.cases.models import Case
from compliance.cases.tasks import complaints_escalate as complaints_escalate_task
from compliance.cases.tests.conftest import place_order
from compliance.models import Complaint
from compliance.services.complaints import (
    ComplaintRefused,
    complaint_acknowledge,
    complaint_close,
    complaint_file,
    complaint_solution_propose,
    complaints_escalate,
)
from delivery.models import Store
from delivery.tests.factories import MenuStore

pytestmark = pytest.mark.django_db
S = Complaint.Status


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("hair.png", buffer.getvalue(), content_type="image/png")


def test_a_complaint_gets_its_deadlines_and_runs_to_closed(
    menu: MenuStore, shop: Store, shop_owner: User, diner: User
) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    filed = timezone.now()
    complaint = complaint_file(
        diner=diner, order=order, category="wrong_item", text="No tea.", photos=[_png()], now=filed
    )
    assert complaint.acknowledge_by == filed + timedelta(hours=1)
    assert complaint.solution_by == filed + timedelta(hours=24)
    assert complaint.close_by == filed + timedelta(hours=48)
    assert complaint.photos.count() == 1
    complaint_acknowledge(user=shop_owner, complaint=complaint)
    complaint_acknowledge(user=shop_owner, complaint=complaint)  # a retried tap
    complaint_solution_propose(user=shop_owner, complaint=complaint, solution="We refund the tea.")
    assert complaint.status == S.SOLUTION_PROPOSED
    complaint_close(user=diner, complaint=complaint)
    assert complaint.status == S.CLOSED and complaint.closed_at is not None
    assert not Case.objects.exists()  # only food safety goes to the regulators


def test_photos_that_are_not_images_are_refused(menu: MenuStore, shop: Store, diner: User) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    fake = SimpleUploadedFile("x.png", b"<?php evil(); ?>", content_type="image/png")
    with pytest.raises(ComplaintRefused) as refused:
        complaint_file(diner=diner, order=order, category="hygiene", text="Dirty box", photos=[fake])
    assert refused.value.field == "photos" and not Complaint.objects.exists()


def test_only_the_orders_diner_files_and_only_the_store_answers(
    menu: MenuStore, shop: Store, diner: User, outsider: User, owner: User, regulator: User
) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    with pytest.raises(ComplaintRefused) as refused:
        complaint_file(diner=outsider, order=order, category="late", text="late")
    assert refused.value.status == 404
    complaint = complaint_file(diner=diner, order=order, category="late", text="An hour late")
    for user in (outsider, owner, regulator):  # `owner` owns another store
        with pytest.raises(ComplaintRefused):
            complaint_acknowledge(user=user, complaint=complaint)
        with pytest.raises(ComplaintRefused):
            complaint_close(user=user, complaint=complaint)
    assert Complaint.objects.get(pk=complaint.pk).status == S.OPEN


def test_breached_deadlines_escalate_once_each(menu: MenuStore, shop: Store, shop_owner: User, diner: User) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    filed = timezone.now()
    complaint = complaint_file(diner=diner, order=order, category="late", text="Cold", now=filed)
    assert complaints_escalate(now=filed + timedelta(minutes=59)) == 0
    assert complaints_escalate(now=filed + timedelta(minutes=61)) == 1
    assert complaints_escalate(now=filed + timedelta(minutes=90)) == 0  # a rerun does nothing
    complaint.refresh_from_db()
    assert complaint.escalations == ["acknowledge"]
    complaint_acknowledge(user=shop_owner, complaint=complaint)
    assert complaints_escalate(now=filed + timedelta(hours=25)) == 1
    complaint_solution_propose(user=shop_owner, complaint=complaint, solution="Voucher")
    assert complaints_escalate(now=filed + timedelta(hours=49)) == 1
    assert complaints_escalate(now=filed + timedelta(hours=72)) == 0
    complaint.refresh_from_db()
    assert complaint.escalations == ["acknowledge", "solution", "close"]


def test_a_met_deadline_does_not_escalate(menu: MenuStore, shop: Store, shop_owner: User, diner: User) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    filed = timezone.now()
    complaint = complaint_file(diner=diner, order=order, category="late", text="Cold", now=filed)
    complaint_solution_propose(user=shop_owner, complaint=complaint, solution="Sorry", now=filed)
    complaint_close(user=diner, complaint=complaint, now=filed)
    assert complaints_escalate(now=filed + timedelta(days=3)) == 0


def test_the_beat_task_runs_the_sweep(menu: MenuStore, shop: Store, diner: User) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    complaint_file(diner=diner, order=order, category="late", text="Cold", now=timezone.now() - timedelta(hours=2))
    assert complaints_escalate_task.apply().get() == 1
    assert complaints_escalate_task.apply().get() == 0


def test_a_food_safety_complaint_opens_a_case_in_the_regulators_queue(
    menu: MenuStore, shop: Store, diner: User, regulator: User, far_regulator: User
) -> None:
    from compliance.cases.selectors import queue_for

    order = place_order(menu, diner, key="a", paid=True)
    complaint = complaint_file(diner=diner, order=order, category="food_safety", text="Vomited after eating.")
    case = Case.objects.get(complaint=complaint)
    assert case.store_id == shop.pk and case.source == Case.Source.COMPLAINT and case.status == Case.Status.OPEN
    assert [row.case.pk for row in queue_for(regulator) if row.case] == [case.pk]
    assert queue_for(far_regulator) == []
