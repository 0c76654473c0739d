"""The menu editor and the store settings on the board: owners and managers of the store only;
categories, dishes with a sniffed photo, option groups and options, set meals; fee bands, dated
hours exceptions, minimum order and packaging fee. Errors come back next to the field."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.models import User
from core.uploads import PHOTO_MAX_BYTES
from delivery.hours import store_is_open
from delivery.models import (
    DeliveryFeeBand,
    HoursException,
    MenuCategory,
    MenuItem,
    Option,
    OptionGroup,
    SetMeal,
)
from delivery.services import menu as menu_svc
from delivery.tests.board_helpers import refresh
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def menu() -> MenuStore:
    return build_menu_store()


@pytest.fixture
def manager(menu) -> User:  # type: ignore[no-untyped-def]
    user: User = StoreMembershipFactory(store=menu.store, role="manager").user
    return user


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _png(size: int = 8) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return SimpleUploadedFile("dish.png", buffer.getvalue(), content_type="image/png")


def _refused_people(menu: MenuStore, outsider: User) -> list[User]:
    staff = StoreMembershipFactory(store=menu.store, role="staff").user
    other_owner = StoreMembershipFactory(store=build_menu_store().store, role="owner").user
    return [outsider, staff, other_owner]


def test_every_editor_write_refuses_outsider_staff_and_another_stores_owner(menu, outsider) -> None:  # type: ignore[no-untyped-def]
    store = menu.store.pk
    group = menu.noodles.option_groups.get(min_choices=1)
    category = menu.noodles.category_id
    posts = [
        (f"/board/{store}/menu/categories/", {"action": "create", "new-name_zh": "饮品"}),
        (f"/board/{store}/menu/categories/", {"action": "delete", "category_id": category}),
        (f"/board/{store}/menu/new/", {"category": category, "name_zh": "x", "price_cents": 100}),
        (f"/board/{store}/menu/{menu.tea.pk}/", {"category": category, "name_zh": "x", "price_cents": 100}),
        (f"/board/{store}/menu/{menu.noodles.pk}/groups/", {"action": "delete", "group_id": group.pk}),
        (f"/board/{store}/menu/groups/{group.pk}/options/", {"action": "delete", "option_id": menu.large.pk}),
        (f"/board/{store}/menu/sets/{menu.set_meal.pk}/", {"action": "delete"}),
        (f"/board/{store}/settings/", {"action": "bands", "bands-TOTAL_FORMS": "0", "bands-INITIAL_FORMS": "0"}),
    ]
    for user in _refused_people(menu, outsider):
        client = _client(user)
        for url, data in posts:
            assert client.post(url, data).status_code == 404, (user, url)
        assert client.get(f"/board/{store}/menu/sets/new/").status_code == 404
    # Nothing moved.
    assert MenuItem.objects.get(pk=menu.tea.pk).name_zh == "柠檬茶"
    assert Option.objects.filter(pk=menu.large.pk).exists() and SetMeal.objects.filter(pk=menu.set_meal.pk).exists()
    assert MenuCategory.objects.filter(store=menu.store).count() == 1
    # The services refuse on their own too (not only the views).
    staff = StoreMembershipFactory(store=menu.store, role="staff").user
    with pytest.raises(menu_svc.MenuRefused) as refused:
        menu_svc.category_create(user=staff, store_id=store, name_zh="饮品")
    assert refused.value.status == 404


def test_categories_add_rename_reorder_and_delete_only_when_empty(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/menu/categories/"
    assert client.post(url, {"action": "create", "new-name_zh": "饮品", "new-name_en": "Drinks"}).status_code == 302
    drinks = MenuCategory.objects.get(store=menu.store, name_zh="饮品")
    noodles = MenuCategory.objects.get(pk=menu.noodles.category_id)
    assert drinks.position > noodles.position

    blank = client.post(url, {"action": "create", "new-name_zh": ""})
    assert blank.status_code == 200 and b'data-testid="error-name_zh"' in blank.content

    assert client.post(url, {"action": "up", "category_id": drinks.pk}).status_code == 302
    order = list(MenuCategory.objects.filter(store=menu.store).order_by("position").values_list("pk", flat=True))
    assert order == [drinks.pk, noodles.pk]

    prefix = f"c{drinks.pk}"
    renamed = {"action": "rename", "category_id": drinks.pk, f"{prefix}-name_zh": "茶饮", f"{prefix}-name_en": "Tea"}
    assert client.post(url, renamed).status_code == 302
    assert MenuCategory.objects.get(pk=drinks.pk).name_en == "Tea"

    full = client.post(url, {"action": "delete", "category_id": noodles.pk})
    assert full.status_code == 200 and b'data-testid="error-category"' in full.content
    assert MenuCategory.objects.filter(pk=noodles.pk).exists()
    assert client.post(url, {"action": "delete", "category_id": drinks.pk}).status_code == 302
    assert not MenuCategory.objects.filter(pk=drinks.pk).exists()
    # Another store's category is not reachable through this store.
    foreign = build_menu_store().noodles.category_id
    for action in ("delete", "rename", "up"):
        assert client.post(url, {"action": action, "category_id": foreign}).status_code == 404
    assert MenuCategory.objects.filter(pk=foreign).exists()


def test_a_dish_with_a_sniffed_photo_and_allergens(menu, manager, media) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    base = {
        "category": menu.noodles.category_id,
        "name_zh": "红烧牛肉面",
        "name_en": "Braised beef noodles",
        "description": "",
        "price_cents": 2600,
        "allergens": ["gluten", "soy"],
    }
    created = client.post(f"/board/{menu.store.pk}/menu/new/", {**base, "photo": _png()})
    assert created.status_code == 302
    dish = MenuItem.objects.get(store=menu.store, name_zh="红烧牛肉面")
    assert dish.price_cents == 2600 and dish.allergens == ["gluten", "soy"]
    assert str(dish.photo.name).endswith(".png") and (media / dish.photo.name).exists()

    # A "photo" that is not an image, or too large, is refused next to the field; nothing changes.
    fake = SimpleUploadedFile("dish.jpg", b"<?php evil(); ?>", content_type="image/jpeg")
    refused = client.post(f"/board/{menu.store.pk}/menu/{dish.pk}/", {**base, "price_cents": 999, "photo": fake})
    assert refused.status_code == 200 and b'data-testid="error-photo"' in refused.content
    assert MenuItem.objects.get(pk=dish.pk).price_cents == 2600
    huge = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (PHOTO_MAX_BYTES + 1), content_type="image/png")
    assert b"error-photo" in client.post(f"/board/{menu.store.pk}/menu/{dish.pk}/", {**base, "photo": huge}).content

    bad_price = client.post(f"/board/{menu.store.pk}/menu/{dish.pk}/", {**base, "price_cents": "0"})
    assert bad_price.status_code == 200 and b'data-testid="error-price_cents"' in bad_price.content
    other_category = build_menu_store().noodles.category_id
    foreign = client.post(f"/board/{menu.store.pk}/menu/{dish.pk}/", {**base, "category": other_category})
    assert b'data-testid="error-category"' in foreign.content

    # A new photo replaces the old one, whose file goes once the change commits.
    old = dish.photo.name
    assert client.post(f"/board/{menu.store.pk}/menu/{dish.pk}/", {**base, "photo": _png(16)}).status_code == 302
    dish.refresh_from_db()
    assert dish.photo.name != old and (media / dish.photo.name).exists()


def test_option_groups_with_min_max_and_options_with_price_deltas(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    groups = f"/board/{menu.store.pk}/menu/{menu.tea.pk}/groups/"
    data = {"action": "save", "newg-name_zh": "甜度", "newg-name_en": "Sweetness"}
    upside_down = client.post(groups, {**data, "newg-min_choices": 2, "newg-max_choices": 1})
    assert upside_down.status_code == 200 and b'data-testid="error-min_choices"' in upside_down.content
    assert client.post(groups, {**data, "newg-min_choices": 1, "newg-max_choices": 1}).status_code == 302
    group = OptionGroup.objects.get(item=menu.tea, name_zh="甜度")
    assert (group.min_choices, group.max_choices) == (1, 1)

    options = f"/board/{menu.store.pk}/menu/groups/{group.pk}/options/"
    key = f"newo{group.pk}"
    assert client.post(options, {f"{key}-name_zh": "少糖", f"{key}-price_delta_cents": "0"}).status_code == 302
    assert client.post(options, {f"{key}-name_zh": "加珍珠", f"{key}-price_delta_cents": "300"}).status_code == 302
    # The tea costs 900 cents: an option taking 1000 off would make it negative.
    negative = client.post(options, {f"{key}-name_zh": "免费", f"{key}-price_delta_cents": "-1000"})
    assert negative.status_code == 200 and b'data-testid="error-price_delta_cents"' in negative.content
    assert sorted(group.options.values_list("price_delta_cents", flat=True)) == [0, 300]

    pearls = group.options.get(name_zh="加珍珠")
    change = {"option_id": pearls.pk, f"o{pearls.pk}-name_zh": "加珍珠", f"o{pearls.pk}-price_delta_cents": "250"}
    assert client.post(options, change).status_code == 302
    assert Option.objects.get(pk=pearls.pk).price_delta_cents == 250
    assert client.post(options, {"action": "delete", "option_id": pearls.pk}).status_code == 302
    assert not Option.objects.filter(pk=pearls.pk).exists()

    page = client.get(f"/board/{menu.store.pk}/menu/{menu.tea.pk}/")
    assert page.status_code == 200 and "少糖" in page.content.decode()
    assert client.post(groups, {"action": "delete", "group_id": group.pk}).status_code == 302
    assert not OptionGroup.objects.filter(pk=group.pk).exists()
    # Another store's group cannot be reached through this store's dish.
    foreign = build_menu_store().noodles.option_groups.get(min_choices=1)
    assert client.post(groups, {"action": "delete", "group_id": foreign.pk}).status_code == 404
    assert OptionGroup.objects.filter(pk=foreign.pk).exists()


def test_set_meals_at_one_price(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/menu/sets/new/"
    base = {"category": menu.noodles.category_id, "name_zh": "双人餐", "name_en": "For two", "price_cents": 4500}
    too_few = client.post(url, {**base, f"qty_{menu.noodles.pk}": 1})
    assert too_few.status_code == 200 and b'data-testid="error-components"' in too_few.content
    created = client.post(url, {**base, f"qty_{menu.noodles.pk}": 2, f"qty_{menu.tea.pk}": 2})
    assert created.status_code == 302
    meal = SetMeal.objects.get(store=menu.store, name_zh="双人餐")
    assert meal.price_cents == 4500
    assert sorted(meal.components.values_list("item_id", "quantity")) == sorted(
        [(menu.noodles.pk, 2), (menu.tea.pk, 2)]
    )
    edit = f"/board/{menu.store.pk}/menu/sets/{meal.pk}/"
    assert client.post(edit, {**base, "price_cents": 4200, f"qty_{menu.noodles.pk}": 2}).status_code == 302
    meal.refresh_from_db()
    assert meal.price_cents == 4200 and list(meal.components.values_list("quantity", flat=True)) == [2]
    assert "双人餐" in client.get(f"/board/{menu.store.pk}/menu/").content.decode()
    assert client.post(edit, {"action": "delete"}).status_code == 302
    assert not SetMeal.objects.filter(pk=meal.pk).exists()
    # A dish of another store cannot go in.
    other = build_menu_store()
    with pytest.raises(menu_svc.MenuRefused) as refused:
        menu_svc.set_meal_save(
            user=manager,
            store_id=menu.store.pk,
            category_id=menu.noodles.category_id,
            name_zh="x",
            price_cents=100,
            components=[(menu.tea.pk, 1), (other.tea.pk, 1)],
        )
    assert refused.value.code == "invalid_component"


# --- Store settings ------------------------------------------------------------------------------


def _bands(rows: list[tuple[object, object, bool]]) -> dict[str, object]:
    data: dict[str, object] = {"action": "bands", "bands-TOTAL_FORMS": len(rows), "bands-INITIAL_FORMS": 0}
    for i, (up_to, fee, delete) in enumerate(rows):
        data[f"bands-{i}-up_to_m"] = up_to
        data[f"bands-{i}-fee_cents"] = fee
        if delete:
            data[f"bands-{i}-DELETE"] = "on"
    return data


def test_fee_bands_add_change_remove_validated(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/settings/"
    page = client.get(url)
    assert page.status_code == 200 and b'name="bands-0-up_to_m"' in page.content
    # Change the first band's fee, remove the second, add a third.
    saved = client.post(url, _bands([(1000, 350, False), (3000, 600, True), (5000, 900, False)]))
    assert saved.status_code == 302
    bands = list(DeliveryFeeBand.objects.filter(store=menu.store).values_list("up_to_m", "fee_cents"))
    assert bands == [(1000, 350), (5000, 900)]

    shrinking = client.post(url, _bands([(2000, 300, False), (1500, 500, False)]))
    assert shrinking.status_code == 200 and b'data-testid="error-up_to_m"' in shrinking.content
    free = client.post(url, _bands([(2000, 0, False)]))
    assert free.status_code == 200 and b'data-testid="error-fee_cents"' in free.content
    nothing = client.post(url, _bands([(1000, 300, True)]))
    assert nothing.status_code == 200 and b"error-up_to_m" in nothing.content
    assert list(DeliveryFeeBand.objects.filter(store=menu.store).values_list("up_to_m", "fee_cents")) == bands


def test_hours_exceptions_closed_or_special_hours_for_a_date(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/settings/"
    holiday = timezone.localdate() + timedelta(days=3)
    closed = {"action": "exception", "exc-date": holiday.isoformat(), "exc-closed": "on", "exc-note": "国庆"}
    assert client.post(url, closed).status_code == 302
    noon = timezone.make_aware(datetime.combine(holiday, time(12, 0)))
    assert not store_is_open(refresh(menu.store), noon)

    special = {"action": "exception", "exc-date": holiday.isoformat(), "exc-opens": "11:00", "exc-closes": "14:00"}
    assert client.post(url, special).status_code == 302
    assert HoursException.objects.filter(store=menu.store).count() == 1
    store = refresh(menu.store)
    assert store_is_open(store, noon)
    assert not store_is_open(store, noon + timedelta(hours=4))

    missing = client.post(url, {"action": "exception", "exc-date": holiday.isoformat(), "exc-opens": "11:00"})
    assert missing.status_code == 200 and b'data-testid="error-closes"' in missing.content
    past = client.post(url, {**closed, "exc-date": (date.today() - timedelta(days=400)).isoformat()})
    assert past.status_code == 200 and b'data-testid="error-date"' in past.content

    exception = HoursException.objects.get(store=menu.store)
    assert client.post(url, {"action": "exception_delete", "exception_id": exception.pk}).status_code == 302
    assert not HoursException.objects.filter(store=menu.store).exists()


def test_minimum_order_and_packaging_fee(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/settings/"
    data = {"action": "store", "default_prep_minutes": 15, "min_order_cents": 2500, "packaging_fee_cents": 150}
    assert client.post(url, data).status_code == 302
    store = refresh(menu.store)
    assert (store.min_order_cents, store.packaging_fee_cents) == (2500, 150)
    bad = client.post(url, {**data, "packaging_fee_cents": "-1"})
    assert bad.status_code == 200 and b'data-testid="error-packaging_fee_cents"' in bad.content
