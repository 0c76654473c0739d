"""After delivery, through the diner's pages (Django's test client): rating an order (the store
and, apart, its courier) and asking for a refund with photos; the order page follows both."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.tests.factories import DinerFactory
from delivery.models import Order, OrderLine, Payment, RefundRequest, RefundRequestPhoto, Review
from delivery.services.aftersales import AftersalesRefused, refund_request_contest, refund_request_create
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import StoreMembershipFactory, build_menu_store
from delivery.transitions import order_transition
from dispatch.models import Courier

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture
def other_diner(db: None) -> User:
    user: User = DinerFactory(user__username="diner-zhao").user
    return user


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _client_for(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _html(response: Any) -> str:
    return str(response.content.decode())


def _order(diner: User, *, delivered: bool = True, courier: Courier | None = None) -> Order:
    """A real order of 2 × noodles (¥18.00 each) and a tea (¥9.00): placed, paid (a succeeded
    sandbox payment), then carried as far as delivered (or only accepted)."""
    menu = build_menu_store()
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(
            LineRequest(item_id=menu.noodles.pk, option_ids=(menu.regular.pk,), quantity=2),
            LineRequest(item_id=menu.tea.pk),
        ),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key=f"k-{Order.objects.count()}").order
    if courier is not None:
        Order.objects.filter(pk=order.pk).update(courier=courier)
    Payment.objects.create(
        order=order,
        provider="sandbox",
        provider_ref=f"sbx_{order.pk}",
        amount_cents=order.total_cents,
        status=Payment.Status.SUCCEEDED,
    )
    steps = (S.PAID, S.ACCEPTED, S.READY, S.PICKED_UP, S.DELIVERED) if delivered else (S.PAID, S.ACCEPTED)
    for to in steps:
        order = order_transition(order_id=order.pk, to=to, actor=None, actor_role="test").order
    return order


def _noodles(order: Order) -> OrderLine:
    return order.lines.get(name_en="Scallion oil noodles")


def _png(name: str = "soup.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _rate_url(order: Order) -> str:
    return reverse("frontend:order_rate", args=[order.number])


def _refund_url(order: Order) -> str:
    return reverse("frontend:order_refund", args=[order.number])


def _order_url(order: Order) -> str:
    return reverse("frontend:order", args=[order.number])


# --- Rating --------------------------------------------------------------------------------


def test_a_delivered_order_is_rated_and_the_order_page_shows_the_rating(diner: User) -> None:
    order = _order(diner)
    client = _client_for(diner)
    assert 'data-testid="rate-order"' in _html(client.get(_order_url(order)))
    page = _html(client.get(_rate_url(order)))
    assert page.count('type="radio" name="store_stars"') == 5
    assert '<span class="visually-hidden">4 stars</span>' in page

    response = client.post(_rate_url(order), {"store_stars": "4", "store_text": "面很筋道"})

    assert response.status_code == 302
    assert response["Location"] == _order_url(order)
    review = Review.objects.get(order=order)
    assert (review.store_stars, review.store_text, review.courier_stars) == (4, "面很筋道", None)
    html = _html(client.get(_order_url(order)))
    assert "Thank you for rating your order." in html
    assert 'data-testid="review-summary"' in html and 'data-stars="4"' in html and "面很筋道" in html
    assert 'data-testid="rate-order"' not in html


def test_rating_is_refused_before_delivery(diner: User) -> None:
    order = _order(diner, delivered=False)
    client = _client_for(diner)

    page = client.get(_rate_url(order))
    response = client.post(_rate_url(order), {"store_stars": "5"})

    assert page.status_code == 200
    assert 'data-testid="rate-not-yet"' in _html(page) and 'data-testid="rate-form"' not in _html(page)
    assert response.status_code == 400
    assert "You can rate this order once it has been delivered." in _html(response)
    assert not Review.objects.exists()
    assert 'data-testid="rate-order"' not in _html(client.get(_order_url(order)))


def test_a_rating_without_stars_says_so_by_the_field_and_keeps_the_words(diner: User) -> None:
    order = _order(diner)

    response = _client_for(diner).post(_rate_url(order), {"store_stars": "", "store_text": "还行"})

    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="error-store_stars"' in html
    assert "还行" in html
    assert not Review.objects.exists()


def test_courier_stars_are_offered_only_when_a_courier_carried_the_order(diner: User, courier: Courier) -> None:
    alone = _order(diner)
    carried = _order(diner, courier=courier)
    client = _client_for(diner)
    assert 'name="courier_stars"' not in _html(client.get(_rate_url(alone)))
    assert _html(client.get(_rate_url(carried))).count('type="radio" name="courier_stars"') == 5

    client.post(_rate_url(alone), {"store_stars": "5", "courier_stars": "1", "courier_text": "ignored"})
    response = client.post(_rate_url(carried), {"store_stars": "3", "courier_stars": "5", "courier_text": "准时"})

    assert response.status_code == 302
    assert Review.objects.get(order=alone).courier_stars is None
    review = Review.objects.get(order=carried)
    assert (review.store_stars, review.courier, review.courier_stars, review.courier_text) == (3, courier, 5, "准时")
    html = _html(client.get(_order_url(carried)))
    assert 'data-testid="review-courier"' in html and 'data-stars="5"' in html


def test_courier_words_without_courier_stars_are_refused_by_the_field(diner: User, courier: Courier) -> None:
    order = _order(diner, courier=courier)

    response = _client_for(diner).post(_rate_url(order), {"store_stars": "4", "courier_text": "太慢了"})

    assert response.status_code == 400
    assert 'data-testid="error-courier_stars"' in _html(response) and "太慢了" in _html(response)
    assert not Review.objects.exists()


def test_a_second_rating_shows_the_review_read_only_with_the_store_reply(diner: User) -> None:
    order = _order(diner)
    client = _client_for(diner)
    client.post(_rate_url(order), {"store_stars": "2", "store_text": "太咸"})
    Review.objects.filter(order=order).update(reply_text="抱歉，下次少放盐", replied_at=timezone.now())

    page = client.get(_rate_url(order))
    again = client.post(_rate_url(order), {"store_stars": "5", "store_text": "changed my mind"})

    assert page.status_code == 200
    html = _html(page)
    assert 'data-testid="review-readonly"' in html and 'data-testid="rate-form"' not in html
    assert 'data-stars="2"' in html and "太咸" in html
    assert 'data-testid="review-reply"' in html and "抱歉，下次少放盐" in html
    assert again.status_code == 409
    assert 'data-testid="review-readonly"' in _html(again)
    assert Review.objects.get(order=order).store_stars == 2


def test_someone_elses_order_cannot_be_rated(diner: User, other_diner: User, outsider: User) -> None:
    order = _order(diner)

    assert _client_for(other_diner).get(_rate_url(order)).status_code == 404
    assert _client_for(other_diner).post(_rate_url(order), {"store_stars": "1"}).status_code == 404
    assert _client_for(outsider).post(_rate_url(order), {"store_stars": "1"}).status_code == 403
    assert not Review.objects.exists()


# --- Refund requests -----------------------------------------------------------------------


def test_a_refund_is_asked_for_with_a_photo(diner: User, media: Path) -> None:
    order = _order(diner)
    noodles = _noodles(order)
    client = _client_for(diner)
    assert 'data-testid="ask-refund"' in _html(client.get(_order_url(order)))
    page = _html(client.get(_refund_url(order)))
    assert page.count('data-testid="refund-quantity"') == 2
    assert 'enctype="multipart/form-data"' in page

    response = client.post(
        _refund_url(order),
        {f"line_{noodles.pk}": "1", "reason": "wrong_item", "details": "送成了大份", "photos": [_png()]},
    )

    assert response.status_code == 302
    assert response["Location"] == _order_url(order)
    request = RefundRequest.objects.get(order=order)
    assert request.lines == [{"line": noodles.pk, "quantity": 1}]
    assert request.amount_cents == noodles.unit_price_cents == 1800
    assert request.reason == "Wrong item: 送成了大份"
    name = RefundRequestPhoto.objects.get(request=request).image.name
    assert name is not None and name.startswith("refunds/") and name.endswith(".png")
    assert "soup" not in name  # stored under a name of its own
    assert (media / name).read_bytes() == _png().read()


def test_a_non_image_upload_is_refused_by_its_field_and_keeps_what_was_typed(diner: User, media: Path) -> None:
    order = _order(diner)
    noodles = _noodles(order)
    fake = SimpleUploadedFile("receipt.png", b"not a picture at all", content_type="image/png")

    response = _client_for(diner).post(
        _refund_url(order),
        {f"line_{noodles.pk}": "1", "reason": "food_safety", "details": "里面有头发", "photos": [fake]},
    )

    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="error-photos"' in html
    assert "Photos must be JPEG, PNG or WebP images of at most 5 MB each." in html
    assert "里面有头发" in html
    assert f'name="line_{noodles.pk}" value="1"' in html
    assert '<option value="food_safety" selected>' in html
    assert 'data-testid="photos-again"' in html
    assert not RefundRequest.objects.exists()
    assert not (media / "refunds").exists() or not any((media / "refunds").iterdir())


def test_asking_for_more_items_than_were_delivered_is_refused(diner: User) -> None:
    order = _order(diner)
    noodles = _noodles(order)  # 2 delivered

    response = _client_for(diner).post(_refund_url(order), {f"line_{noodles.pk}": "3", "reason": "missing_item"})

    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="error-lines"' in html
    assert f'name="line_{noodles.pk}" value="3"' in html
    assert not RefundRequest.objects.exists()


def test_other_needs_words_and_some_item_must_be_chosen(diner: User) -> None:
    order = _order(diner)
    client = _client_for(diner)

    other = client.post(_refund_url(order), {f"line_{_noodles(order).pk}": "1", "reason": "other", "details": " "})
    nothing = client.post(_refund_url(order), {"reason": "quality"})

    assert other.status_code == 400 and 'data-testid="error-details"' in _html(other)
    assert nothing.status_code == 400 and 'data-testid="error-lines"' in _html(nothing)
    assert not RefundRequest.objects.exists()


def test_someone_elses_order_gets_no_refund_page(diner: User, other_diner: User) -> None:
    order = _order(diner)
    client = _client_for(other_diner)

    assert client.get(_refund_url(order)).status_code == 404
    response = client.post(_refund_url(order), {f"line_{_noodles(order).pk}": "1", "reason": "quality"})
    assert response.status_code == 404
    assert not RefundRequest.objects.exists()


def test_refunds_are_refused_before_delivery(diner: User) -> None:
    order = _order(diner, delivered=False)
    client = _client_for(diner)

    page = client.get(_refund_url(order))
    response = client.post(_refund_url(order), {f"line_{_noodles(order).pk}": "1", "reason": "quality"})

    assert 'data-testid="refund-blocked"' in _html(page) and 'data-testid="refund-form"' not in _html(page)
    assert response.status_code == 400
    assert "You can ask for a refund once the order has been delivered." in _html(response)
    assert 'data-testid="ask-refund"' not in _html(client.get(_order_url(order)))


def test_the_order_page_shows_the_request_status_amount_and_deadline(diner: User) -> None:
    order = _order(diner)
    owner = StoreMembershipFactory(store=order.store).user
    request = refund_request_create(
        diner=diner, order=order, reason="Cold or late", lines=[{"line": _noodles(order).pk, "quantity": 2}]
    )
    client = _client_for(diner)

    html = _html(client.get(_order_url(order)))

    assert 'data-testid="refund-request" data-status="requested"' in html
    assert 'data-testid="refund-amount">¥36.00<' in html
    deadline = timezone.localtime(request.respond_by).strftime("%Y-%m-%d %H:%M")
    assert f"The restaurant must answer by {deadline}" in html
    assert "2 × Scallion oil noodles" in html
    assert 'data-testid="ask-refund"' not in html  # one open request at a time
    blocked = _html(client.get(_refund_url(order)))
    assert 'data-testid="refund-blocked"' in blocked

    refund_request_contest(user=owner, request=request, response="顾客已经吃完了")
    html = _html(client.get(_order_url(order)))
    assert 'data-status="contested"' in html and "Contested by the store" in html
    assert 'data-testid="refund-store-response"' in html and "顾客已经吃完了" in html


def test_photos_are_checked_by_content_size_and_count(diner: User, media: Path) -> None:
    order = _order(diner)
    lines = [{"line": _noodles(order).pk, "quantity": 1}]

    def ask(*photos: SimpleUploadedFile) -> str:
        with pytest.raises(AftersalesRefused) as refused:
            refund_request_create(diner=diner, order=order, reason="Quality", lines=lines, photos=photos)
        assert refused.value.field == "photos"
        return refused.value.code

    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    assert ask(SimpleUploadedFile("a.png", gif.getvalue(), content_type="image/png")) == "invalid_photo"
    big = SimpleUploadedFile("big.png", _png().read() + b"\0" * (5 * 1024 * 1024), content_type="image/png")
    assert ask(big) == "invalid_photo"
    assert ask(_png(), _png(), _png(), _png()) == "too_many_photos"
    assert not RefundRequest.objects.exists()

    three = refund_request_create(
        diner=diner, order=order, reason="Quality", lines=lines, photos=[_png(), _png(), _png()]
    )
    assert three.photos.count() == 3
