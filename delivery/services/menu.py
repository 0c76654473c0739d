"""The menu editor's writes (owners and managers of the store only): categories, dishes with
their photo, option groups and options, set meals (套餐). Each write checks access, runs in one
transaction and works in integer cents. Refusals carry a stable code, a readable message and the
form field they belong to, so pages show them next to the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.access import STORE_ROLES_MANAGE, access_store
from accounts.models import User
from core.uploads import photo_extension_or_none
from delivery.models import (
    Allergen,
    MenuCategory,
    MenuItem,
    Option,
    OptionGroup,
    SetMeal,
    SetMealComponent,
    Store,
)

PRICE_MAX_CENTS = 1_000_000  # ¥10,000: a dish above this is a typo, not a dish
OPTION_DELTA_MAX_CENTS = 100_000


class MenuRefused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def _store_for(user: User, store_id: int) -> Store:
    """The store, locked for the write, when the user is its owner or a manager; else not found
    (another store's owner, staff and outsiders learn nothing)."""
    store = Store.objects.select_for_update().filter(pk=store_id).first()
    if store is None or not access_store(user, store, roles=STORE_ROLES_MANAGE):
        raise MenuRefused("not_found", _("No such store."), status=404)
    return store


def _names(name_zh: str, name_en: str) -> tuple[str, str]:
    zh, en = (name_zh or "").strip(), (name_en or "").strip()
    if not zh:
        raise MenuRefused("name_required", _("Give the Chinese name."), field="name_zh")
    if len(zh) > 128:
        raise MenuRefused("name_too_long", _("At most 128 characters."), field="name_zh")
    if len(en) > 128:
        raise MenuRefused("name_too_long", _("At most 128 characters."), field="name_en")
    return zh, en


def _price(cents: int, *, field: str = "price_cents") -> int:
    if not isinstance(cents, int) or cents <= 0 or cents > PRICE_MAX_CENTS:
        raise MenuRefused("invalid_price", _("The price is a whole number of cents above 0."), field=field)
    return cents


def photo_extension(photo: UploadedFile[bytes]) -> str:
    """The photo's extension by what its bytes are (core.uploads: JPEG, PNG or WebP of at most
    5 MB, the same rule as refund photos)."""
    extension = photo_extension_or_none(photo)
    if extension is None:
        raise MenuRefused(
            "invalid_photo", _("The photo must be a JPEG, PNG or WebP image of at most 5 MB."), field="photo"
        )
    return extension


# --- Categories --------------------------------------------------------------------------------


@transaction.atomic
def category_create(*, user: User, store_id: int, name_zh: str, name_en: str = "") -> MenuCategory:
    store = _store_for(user, store_id)
    zh, en = _names(name_zh, name_en)
    last = store.menu_categories.aggregate(m=Max("position"))["m"]
    return MenuCategory.objects.create(store=store, name_zh=zh, name_en=en, position=0 if last is None else last + 1)


@transaction.atomic
def category_rename(*, user: User, store_id: int, category_id: int, name_zh: str, name_en: str = "") -> MenuCategory:
    store = _store_for(user, store_id)
    category = _category(store, category_id)
    category.name_zh, category.name_en = _names(name_zh, name_en)
    category.save(update_fields=["name_zh", "name_en"])
    return category


def _category(store: Store, category_id: int | None) -> MenuCategory:
    category = MenuCategory.objects.filter(store=store, pk=category_id).first() if category_id else None
    if category is None:
        raise MenuRefused("invalid_category", _("Choose one of this store's categories."), field="category")
    return category


@transaction.atomic
def category_move(*, user: User, store_id: int, category_id: int, step: int) -> list[MenuCategory]:
    """Move a category one place up (step -1) or down (+1); positions are renumbered 0..n-1."""
    store = _store_for(user, store_id)
    ordered = list(store.menu_categories.order_by("position", "id"))
    index = next((i for i, c in enumerate(ordered) if c.pk == category_id), None)
    if index is None:
        raise MenuRefused("invalid_category", _("Choose one of this store's categories."), field="category")
    target = max(0, min(len(ordered) - 1, index + (1 if step > 0 else -1)))
    ordered.insert(target, ordered.pop(index))
    for position, category in enumerate(ordered):
        category.position = position
    MenuCategory.objects.bulk_update(ordered, ["position"])
    return ordered


@transaction.atomic
def category_delete(*, user: User, store_id: int, category_id: int) -> None:
    """Only an empty category goes (no dish and no set meal in it)."""
    store = _store_for(user, store_id)
    category = _category(store, category_id)
    if category.items.exists() or category.set_meals.exists():
        raise MenuRefused(
            "category_not_empty", _("Move or delete the dishes in this category first."), field="category", status=409
        )
    category.delete()


# --- Dishes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFields:
    category_id: int
    name_zh: str
    name_en: str
    description: str
    price_cents: int
    position: int = 0
    allergens: Sequence[str] = ()


@transaction.atomic
def item_save(
    *,
    user: User,
    store_id: int,
    fields: ItemFields,
    item_id: int | None = None,
    photo: UploadedFile[bytes] | None = None,
    remove_photo: bool = False,
) -> MenuItem:
    """Create (no `item_id`) or change a dish; a new `photo` replaces the old one."""
    store = _store_for(user, store_id)
    if item_id is not None:
        item = MenuItem.objects.select_for_update().filter(store=store, pk=item_id).first()
        if item is None:
            raise MenuRefused("not_found", _("No such dish."), status=404)
    else:
        item = MenuItem(store=store)
    extension = photo_extension(photo) if photo is not None else None
    item.category = _category(store, fields.category_id)
    item.name_zh, item.name_en = _names(fields.name_zh, fields.name_en)
    item.description = (fields.description or "").strip()
    item.price_cents = _price(fields.price_cents)
    item.position = max(0, min(fields.position, 32767))
    unknown = set(fields.allergens) - set(Allergen.values)
    if unknown:
        raise MenuRefused("invalid_allergen", _("Choose allergens from the list."), field="allergens")
    item.allergens = sorted(set(fields.allergens))
    old_photo = item.photo.name if item.photo else ""
    if photo is not None and extension is not None:
        item.photo.save(f"{uuid.uuid4().hex}.{extension}", photo, save=False)
    elif remove_photo:
        item.photo = ""
    item.save()
    if old_photo and old_photo != (item.photo.name or ""):
        storage = item.photo.storage
        transaction.on_commit(lambda: storage.delete(old_photo))
    return item


# --- Option groups and options ------------------------------------------------------------------


def _item(store: Store, item_id: int) -> MenuItem:
    item = MenuItem.objects.filter(store=store, pk=item_id).first()
    if item is None:
        raise MenuRefused("not_found", _("No such dish."), status=404)
    return item


def _choices(min_choices: int, max_choices: int) -> tuple[int, int]:
    if max_choices < 1 or max_choices > 50:
        raise MenuRefused("invalid_max", _("The most a diner may pick is between 1 and 50."), field="max_choices")
    if min_choices < 0 or min_choices > max_choices:
        raise MenuRefused(
            "invalid_min", _("The least a diner must pick is between 0 and the most."), field="min_choices"
        )
    return min_choices, max_choices


@transaction.atomic
def option_group_save(
    *,
    user: User,
    store_id: int,
    item_id: int,
    name_zh: str,
    name_en: str = "",
    min_choices: int,
    max_choices: int,
    group_id: int | None = None,
) -> OptionGroup:
    store = _store_for(user, store_id)
    item = _item(store, item_id)
    if group_id is not None:
        group = OptionGroup.objects.filter(item=item, pk=group_id).first()
        if group is None:
            raise MenuRefused("not_found", _("No such option group."), status=404)
    else:
        last = item.option_groups.aggregate(m=Max("position"))["m"]
        group = OptionGroup(item=item, position=0 if last is None else last + 1)
    group.name_zh, group.name_en = _names(name_zh, name_en)
    group.min_choices, group.max_choices = _choices(min_choices, max_choices)
    group.save()
    return group


def _group(store: Store, group_id: int) -> OptionGroup:
    group = OptionGroup.objects.filter(item__store=store, pk=group_id).first()
    if group is None:
        raise MenuRefused("not_found", _("No such option group."), status=404)
    return group


@transaction.atomic
def option_group_delete(*, user: User, store_id: int, group_id: int) -> None:
    store = _store_for(user, store_id)
    _group(store, group_id).delete()


@transaction.atomic
def option_save(
    *,
    user: User,
    store_id: int,
    group_id: int,
    name_zh: str,
    name_en: str = "",
    price_delta_cents: int,
    option_id: int | None = None,
) -> Option:
    """An option with its price difference in cents (negative for a smaller size)."""
    store = _store_for(user, store_id)
    group = _group(store, group_id)
    if option_id is not None:
        option = Option.objects.filter(group=group, pk=option_id).first()
        if option is None:
            raise MenuRefused("not_found", _("No such option."), status=404)
    else:
        last = group.options.aggregate(m=Max("position"))["m"]
        option = Option(group=group, position=0 if last is None else last + 1)
    option.name_zh, option.name_en = _names(name_zh, name_en)
    if not isinstance(price_delta_cents, int) or abs(price_delta_cents) > OPTION_DELTA_MAX_CENTS:
        raise MenuRefused(
            "invalid_price_delta", _("The price difference is a whole number of cents."), field="price_delta_cents"
        )
    if group.item.price_cents + price_delta_cents < 0:
        raise MenuRefused(
            "invalid_price_delta",
            _("The dish would cost less than nothing with this option."),
            field="price_delta_cents",
        )
    option.price_delta_cents = price_delta_cents
    option.save()
    return option


@transaction.atomic
def option_delete(*, user: User, store_id: int, option_id: int) -> None:
    store = _store_for(user, store_id)
    option = Option.objects.filter(group__item__store=store, pk=option_id).first()
    if option is None:
        raise MenuRefused("not_found", _("No such option."), status=404)
    option.delete()


# --- Set meals ---------------------------------------------------------------------------------


@transaction.atomic
def set_meal_save(
    *,
    user: User,
    store_id: int,
    category_id: int,
    name_zh: str,
    name_en: str = "",
    description: str = "",
    price_cents: int,
    components: Sequence[tuple[int, int]],
    set_meal_id: int | None = None,
    photo: UploadedFile[bytes] | None = None,
) -> SetMeal:
    """A set meal: several of the store's dishes (item id, quantity) at one price."""
    store = _store_for(user, store_id)
    if set_meal_id is not None:
        meal = SetMeal.objects.select_for_update().filter(store=store, pk=set_meal_id).first()
        if meal is None:
            raise MenuRefused("not_found", _("No such set meal."), status=404)
    else:
        last = store.set_meals.aggregate(m=Max("position"))["m"]
        meal = SetMeal(store=store, position=0 if last is None else last + 1)
    extension = photo_extension(photo) if photo is not None else None
    meal.category = _category(store, category_id)
    meal.name_zh, meal.name_en = _names(name_zh, name_en)
    meal.description = (description or "").strip()
    meal.price_cents = _price(price_cents)
    wanted: dict[int, int] = {}
    for item_id, quantity in components:
        if quantity < 1 or quantity > 20:
            raise MenuRefused("invalid_quantity", _("Each dish is in the set 1 to 20 times."), field="components")
        wanted[item_id] = wanted.get(item_id, 0) + quantity
    found = set(MenuItem.objects.filter(store=store, pk__in=wanted).values_list("pk", flat=True))
    if set(wanted) - found:
        raise MenuRefused("invalid_component", _("Choose dishes of this store."), field="components")
    if sum(wanted.values()) < 2:
        raise MenuRefused("too_few_components", _("A set meal has at least two dishes."), field="components")
    if photo is not None and extension is not None:
        meal.photo.save(f"{uuid.uuid4().hex}.{extension}", photo, save=False)
    meal.save()
    SetMealComponent.objects.filter(set_meal=meal).delete()
    SetMealComponent.objects.bulk_create(
        [SetMealComponent(set_meal=meal, item_id=item_id, quantity=q) for item_id, q in wanted.items()]
    )
    return meal


@transaction.atomic
def set_meal_delete(*, user: User, store_id: int, set_meal_id: int) -> None:
    store = _store_for(user, store_id)
    deleted, _rows = SetMeal.objects.filter(store=store, pk=set_meal_id).delete()
    if not deleted:
        raise MenuRefused("not_found", _("No such set meal."), status=404)
