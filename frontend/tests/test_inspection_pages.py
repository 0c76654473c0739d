"""Inspection pages through Django's test client: the regulator's form (district only), the
public inspection page, the merchant's contest-and-reply form (owner or manager only), and the
open-data downloads."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import RegulatorFactory, square
from compliance.inspections.models import Inspection
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.services import inspection_record
from compliance.inspections.tests.factories import violation_codes_ensure
from delivery.models import Store, StoreMembership
from delivery.tests.factories import StoreMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes(db: None) -> None:
    violation_codes_ensure()


def _client(user: User | None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f-]+)"', html)
    assert match, "the form carries a token"
    return match.group(1)


def _post_inspection(client: Client, store: Store, token: str, **extra: Any) -> Any:
    data = {
        "token": token,
        "inspected_on": timezone.localdate().isoformat(),
        "kind": "routine",
        "violations": ["CN-05", "CN-09"],
        "notes": "walk-in fridge at 9 °C",
        **extra,
    }
    return client.post(reverse("frontend:inspection_new", args=[store.pk]), data)


@pytest.fixture
def other_regulator(db: None) -> User:
    user: User = RegulatorFactory(user__username="regulator-pudong", district=square(121.60, 31.20, 0.02)).user
    return user


def test_regulator_records_an_inspection_from_the_code_list(store: Store, regulator: User) -> None:
    client = _client(regulator)
    page = client.get(reverse("frontend:inspection_new", args=[store.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "CN-05" in html and 'data-testid="violation-codes"' in html
    token = _token(html)
    response = _post_inspection(client, store, token)
    inspection = Inspection.objects.get(store=store)
    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:inspection", args=[inspection.pk])
    assert (inspection.score, inspection.grade, inspection.kind) == (85, "良好", "routine")
    assert inspection.grade_state == Inspection.GradeState.PENDING
    assert inspection.inspector == regulator
    assert sorted(inspection.violations.values_list("code", flat=True)) == ["CN-05", "CN-09"]
    # A retried submit of the same form updates that inspection instead of adding one.
    _post_inspection(client, store, token, violations=["CN-05"])
    assert Inspection.objects.filter(store=store).count() == 1
    assert Inspection.objects.get(store=store).score == 90


def test_inspection_form_shows_errors_by_the_field(store: Store, regulator: User) -> None:
    client = _client(regulator)
    token = _token(client.get(reverse("frontend:inspection_new", args=[store.pk])).content.decode())
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = _post_inspection(client, store, token, inspected_on=tomorrow, violations=["NOPE"])
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-inspected_on"' in html and 'data-testid="error-violations"' in html
    assert not Inspection.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "other_regulator", "owner", "anonymous"])
def test_inspection_form_refuses_everyone_but_the_district_regulator(
    store: Store, who: str, request: pytest.FixtureRequest
) -> None:
    user = None if who == "anonymous" else request.getfixturevalue(who)
    client = _client(user)
    url = reverse("frontend:inspection_new", args=[store.pk])
    page = client.get(url)
    posted = _post_inspection(client, store, "0" * 32)
    if user is None:
        assert page.status_code == 302 and "/login" in page["Location"]
    else:
        assert page.status_code == 403
        assert posted.status_code == 403
    assert not Inspection.objects.exists()


def _pending(store: Store) -> Inspection:
    return inspection_record(
        store=store,
        inspected_on=timezone.localdate(),
        scheme="cn",
        violations=[ViolationInput(code="CN-05", points=10, critical=True, description="生熟未分开")],
    )


def test_owner_contests_once_and_the_reply_shows_beside_the_grade(store: Store, owner: User) -> None:
    inspection = _pending(store)
    client = _client(owner)
    detail = client.get(reverse("frontend:inspection", args=[inspection.pk])).content.decode()
    assert 'data-testid="reply-link"' in detail
    url = reverse("frontend:inspection_reply", args=[inspection.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reply": "We separated the boards the same day."})
    assert response.status_code == 302
    again = client.post(url, {"reply": "once more"})
    assert again.status_code == 409
    public = _client(None).get(reverse("frontend:inspection", args=[inspection.pk])).content.decode()
    assert "We separated the boards the same day." in public
    assert "once more" not in public
    assert 'data-testid="reply-link"' not in public


def test_reply_form_shows_an_empty_reply_by_the_field(store: Store, owner: User) -> None:
    inspection = _pending(store)
    response = _client(owner).post(reverse("frontend:inspection_reply", args=[inspection.pk]), {"reply": ""})
    assert response.status_code == 400
    assert 'data-testid="error-reply"' in response.content.decode()


@pytest.mark.parametrize("who", ["outsider", "regulator", "staff", "other_owner", "diner"])
def test_reply_form_refuses_all_but_the_stores_owner_or_manager(
    store: Store, who: str, request: pytest.FixtureRequest
) -> None:
    inspection = _pending(store)
    if who == "staff":
        user = StoreMembershipFactory(store=store, role=StoreMembership.Role.STAFF).user
    elif who == "other_owner":
        user = StoreMembershipFactory().user
    else:
        user = request.getfixturevalue(who)
    url = reverse("frontend:inspection_reply", args=[inspection.pk])
    client = _client(user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reply": "not mine to say"}).status_code == 403
    inspection.refresh_from_db()
    assert inspection.merchant_reply == ""


def test_manager_may_reply(store: Store) -> None:
    manager = StoreMembershipFactory(store=store, role=StoreMembership.Role.MANAGER).user
    inspection = _pending(store)
    assert (
        _client(manager).post(reverse("frontend:inspection_reply", args=[inspection.pk]), {"reply": "ok"}).status_code
        == 302
    )


def test_pages_render_in_chinese(store: Store, regulator: User) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(regulator, backend="django.contrib.auth.backends.ModelBackend")
    html = client.get(reverse("frontend:inspection_new", args=[store.pk])).content.decode()
    assert 'lang="zh-hans"' in html
    assert "生熟食品未分开存放或加工" in html
    assert "记录检查" in html and "发现的问题" in html  # locale/zh_Hans (compiled by `make`)


def test_open_data_downloads_final_grades_only(store: Store) -> None:
    _pending(store)  # pending: not published yet
    final = inspection_record(
        store=store,
        inspected_on=timezone.localdate(),
        scheme="cn",
        violations=[ViolationInput(code="CN-09", points=5)],
        external_ref="t:1",
    )
    client = _client(None)
    data = json.loads(client.get(reverse("frontend:open_data_json")).content)
    assert [i["inspection_id"] for i in data["inspections"]] == [final.pk]
    assert data["inspections"][0]["violations"][0]["code"] == "CN-09"
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("frontend:open_data_csv")).content.decode())))
    assert [(r["inspection_id"], r["grade"], r["violation_codes"]) for r in rows] == [(str(final.pk), "优秀", "CN-09")]
    lives = client.get(reverse("frontend:open_data_lives", args=["inspections"])).content.decode()
    assert lives.splitlines() == ["business_id,score,date,type", f"{store.pk},95,{final.inspected_on:%Y%m%d},routine"]
    assert client.get("/open-data/lives/passwords.csv").status_code == 404


def test_store_staff_see_their_inspection_history_and_managers_the_reply_link(store: Store, owner: User) -> None:
    inspection = _pending(store)
    url = reverse("frontend:store_inspections", args=[store.pk])
    html = _client(owner).get(url).content.decode()
    assert html.count('data-testid="store-inspection"') == 1
    assert reverse("frontend:inspection_reply", args=[inspection.pk]) in html
    staff = StoreMembershipFactory(store=store, role=StoreMembership.Role.STAFF).user
    staff_html = _client(staff).get(url).content.decode()
    assert 'data-testid="store-inspection"' in staff_html and 'data-testid="store-reply-link"' not in staff_html


@pytest.mark.parametrize("who", ["outsider", "regulator", "diner"])
def test_store_inspection_history_refuses_outsiders(store: Store, who: str, request: pytest.FixtureRequest) -> None:
    _pending(store)
    response = _client(request.getfixturevalue(who)).get(reverse("frontend:store_inspections", args=[store.pk]))
    assert response.status_code == 403
