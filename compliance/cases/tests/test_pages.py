"""The regulator's, merchant's, public credit and complaint pages: what each shows, and who is
refused (an outsider, another store's owner, a regulator of another district)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.tests.factories import DinerFactory
from compliance.cases.models import Case
from compliance.cases.services import case_notice_send, case_open_from_flag, case_review, case_triage
from compliance.cases.tests.conftest import place_order
from compliance.models import Complaint, Flag, LegalEntity, StoreRegistration
from compliance.services.complaints import complaint_file
from compliance.services.sanctions import sanction_impose
from delivery.models import Store
from delivery.tests.factories import MenuStore, StoreFactory

pytestmark = pytest.mark.django_db


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_dashboard_shows_the_regulators_queue_and_nobody_elses(
    regulator: User, far_regulator: User, flag: Flag, outsider: User, shop_owner: User
) -> None:
    page = _client(regulator).get(reverse("frontend:regulator"))
    assert page.status_code == 200
    assert b'data-testid="queue-row"' in page.content and flag.code.encode() in page.content
    far = _client(far_regulator).get(reverse("frontend:regulator"))
    assert far.status_code == 200 and b'data-testid="queue-empty"' in far.content
    for user in (outsider, shop_owner):
        assert _client(user).get(reverse("frontend:regulator")).status_code == 403
    assert _client(None).get(reverse("frontend:regulator")).status_code == 302


def test_the_pages_speak_chinese_and_english(regulator: User, flag: Flag) -> None:
    client = _client(regulator)
    zh = client.get(reverse("frontend:regulator"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "监管工作台" in zh and "审查此预警" in zh
    en = client.get(reverse("frontend:regulator"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Regulator dashboard" in en and "Review this flag" in en
    public = Client().get(reverse("frontend:credit_search"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "商家信用记录" in public


def test_reviewing_a_flag_opens_its_case_page_with_the_evidence(regulator: User, flag: Flag) -> None:
    sibling = StoreFactory(name_en="Sibling Kitchen")
    same_rep = LegalEntity.objects.create(
        name="同一法人的另一家公司", uscc="91310106MA1FL9ZZ9Z", legal_rep_id_hash="a" * 64
    )
    StoreRegistration.objects.create(store=sibling, entity=same_rep)
    client = _client(regulator)
    response = client.post(reverse("frontend:regulator_flag_take", args=[flag.pk]))
    case = Case.objects.get(flag=flag)
    assert response.status_code == 302 and response["Location"] == reverse("frontend:regulator_case", args=[case.pk])
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert "JY23101060012345" in body  # the licence, in the table and in the flag's evidence
    assert "licence" in body and "stores &gt; 1 &gt; name" in body  # evidence JSON rendered readably
    assert "91310106MA1FL2XQ0X" in body  # the entity's credit code
    assert 'data-testid="audit"' in body and 'data-testid="chain-broken"' not in body
    assert "同一法人的另一家公司" in body and sibling.name_zh in body  # related by the legal rep's hash


def test_a_regulator_of_another_district_is_refused_on_every_case_page(
    regulator: User, far_regulator: User, flag: Flag, outsider: User, shop_owner: User
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    far = _client(far_regulator)
    assert far.post(reverse("frontend:regulator_flag_take", args=[flag.pk])).status_code == 404
    assert far.get(reverse("frontend:regulator_case", args=[case.pk])).status_code == 404
    for action in ("triage", "note", "close", "decide"):
        assert (
            far.post(reverse("frontend:regulator_case_act", args=[case.pk, action]), {"text": "x"}).status_code == 404
        )
    for user in (outsider, shop_owner):
        assert _client(user).get(reverse("frontend:regulator_case", args=[case.pk])).status_code == 403
        assert _client(user).post(reverse("frontend:regulator_case_act", args=[case.pk, "triage"])).status_code == 403
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN


def test_case_actions_through_the_page_and_refusals_by_their_field(regulator: User, flag: Flag) -> None:
    client = _client(regulator)
    case = case_open_from_flag(regulator=regulator, flag=flag)

    def act(action: str, data: dict[str, object] | None = None) -> Any:
        return client.post(reverse("frontend:regulator_case_act", args=[case.pk, action]), data or {})

    assert act("review").status_code == 302  # refused: open -> review; shown as a message
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    act("triage")
    act("review")
    bad = act("notice", {"text": "", "defence_days": 3})
    assert bad.status_code == 400 and b'data-testid="error-text"' in bad.content
    act("notice", {"text": "Explain the shared licence.", "defence_days": 3})
    case.refresh_from_db()
    assert case.status == Case.Status.NOTICE
    early = act("decide", {"decision": "suspension", "reason": "x"})
    assert early.status_code == 302
    case.refresh_from_db()
    assert case.status == Case.Status.NOTICE  # the merchant may still answer


def test_the_merchant_sees_the_notice_and_files_a_defence(
    regulator: User, flag: Flag, shop_owner: User, owner: User, outsider: User, far_regulator: User
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    case_triage(regulator=regulator, case=case)
    case_review(regulator=regulator, case=case)
    case_notice_send(regulator=regulator, case=case, text="Explain the shared licence.")
    url = reverse("frontend:merchant_case", args=[case.pk])
    client = _client(shop_owner)
    listing = client.get(reverse("frontend:merchant_cases"))
    assert listing.status_code == 200 and case.title.encode() in listing.content
    page = client.get(url)
    assert page.status_code == 200 and b"Explain the shared licence." in page.content
    assert client.post(url, {"kind": "defence", "text": "It is our branch."}).status_code == 302
    case.refresh_from_db()
    assert case.defence_text == "It is our branch."
    again = client.post(url, {"kind": "defence", "text": "Again"})
    assert again.status_code == 409
    for user in (owner, outsider, far_regulator, regulator):
        assert _client(user).get(url).status_code == 404
        assert _client(user).post(url, {"kind": "appeal", "text": "x"}).status_code == 404
    assert _client(outsider).get(reverse("frontend:merchant_cases")).status_code == 403


def test_public_credit_pages_show_sanctions_and_follow_a_reregistration(
    menu: MenuStore, shop: Store, regulator: User, diner: User
) -> None:
    sanction_impose(regulator=regulator, store=shop, kind="delisting", reason="Unlicensed kitchen")
    # The same legal representative opens a new company and a new store under another name.
    reborn = StoreFactory(name_zh="新名字小馆", name_en="New Name Kitchen", address="上海市静安区昌平路1号")
    entity = LegalEntity.objects.create(name="另一家公司", uscc="91310106MA1FL3YQ1A", legal_rep_id_hash="a" * 64)
    StoreRegistration.objects.create(store=reborn, entity=entity)
    anonymous = _client(None)

    own = anonymous.get(reverse("frontend:credit_store", args=[shop.pk]))
    assert own.status_code == 200 and b'data-testid="credit-sanctions"' in own.content
    assert "Unlicensed kitchen" in own.content.decode()
    new = anonymous.get(reverse("frontend:credit_store", args=[reborn.pk]))
    assert b'data-testid="credit-reregistration"' in new.content and "Unlicensed kitchen" in new.content.decode()
    # ... and on the diner's store page.
    diner_page = _client(diner).get(reverse("frontend:store", args=[reborn.pk]))
    assert diner_page.status_code == 200 and b'data-testid="credit-alert"' in diner_page.content

    by_name = anonymous.get(reverse("frontend:credit_search"), {"q": "黑厨房"})
    assert "91310106MA1FL2XQ0X" in by_name.content.decode()
    by_code = anonymous.get(reverse("frontend:credit_search"), {"q": "91310106ma1fl2xq0x"})
    assert shop.display_name in by_code.content.decode() or shop.name_zh in by_code.content.decode()
    entity_page = anonymous.get(reverse("frontend:credit_entity", args=["91310106MA1FL2XQ0X"]))
    assert entity_page.status_code == 200 and b'data-testid="entity-sanctioned"' in entity_page.content
    clean = StoreFactory()
    assert b'data-testid="no-sanctions"' in anonymous.get(reverse("frontend:credit_store", args=[clean.pk])).content
    draft = StoreFactory(status=Store.Status.DRAFT)
    assert anonymous.get(reverse("frontend:credit_store", args=[draft.pk])).status_code == 404


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")


def test_a_diner_files_a_complaint_and_follows_its_deadlines(
    menu: MenuStore, shop: Store, diner: User, shop_owner: User, owner: User, outsider: User
) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    client = _client(diner)
    url = reverse("frontend:order_complaint", args=[order.number])
    empty = client.post(url, {"category": "", "text": ""})
    assert empty.status_code == 400 and b'data-testid="error-category"' in empty.content
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    bad = client.post(url, {"category": "hygiene", "text": "Hair", "photos": [fake]})
    assert bad.status_code == 400 and b'data-testid="error-photos"' in bad.content
    sent = client.post(url, {"category": "food_safety", "text": "Hair in the soup", "photos": [_png()]})
    assert sent.status_code == 302
    complaint = Complaint.objects.get(order=order)
    assert complaint.photos.count() == 1 and Case.objects.filter(complaint=complaint).exists()
    page = client.get(reverse("frontend:order", args=[order.number]))
    assert b'data-testid="complaint-deadlines"' in page.content
    assert timezone.localtime(complaint.acknowledge_by).strftime("%Y-%m-%d %H:%M").encode() in page.content

    other_diner = DinerFactory().user
    assert _client(other_diner).get(url).status_code == 404
    assert _client(outsider).get(url).status_code == 403

    # The store's side.
    listing = _client(shop_owner).get(reverse("frontend:store_complaints"))
    assert listing.status_code == 200 and b"Hair in the soup" in listing.content
    assert b"Hair in the soup" not in _client(owner).get(reverse("frontend:store_complaints")).content
    assert _client(outsider).get(reverse("frontend:store_complaints")).status_code == 403
    act = reverse("frontend:store_complaint_act", args=[complaint.pk])
    assert _client(owner).post(act, {"action": "acknowledge"}).status_code == 404
    _client(shop_owner).post(act, {"action": "acknowledge"})
    _client(shop_owner).post(act, {"action": "propose", "solution": "Full refund and an apology."})
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.SOLUTION_PROPOSED
    close = reverse("frontend:complaint_close", args=[complaint.pk])
    assert _client(other_diner).post(close).status_code == 404
    assert client.post(close).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.CLOSED


def test_an_escalated_complaint_shows_on_the_order_page(menu: MenuStore, shop: Store, diner: User) -> None:
    from compliance.services.complaints import complaints_escalate

    order = place_order(menu, diner, key="a", paid=True)
    complaint_file(diner=diner, order=order, category="late", text="Cold", now=timezone.now() - timedelta(hours=2))
    complaints_escalate()
    page = _client(diner).get(reverse("frontend:order", args=[order.number]))
    assert b'data-testid="complaint-escalated"' in page.content
