from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import factory
from django.contrib.gis.geos import Point

from accounts.tests.factories import UserFactory
from accounts.tests.factories import square as square_zone
from delivery.models import (
    DeliveryFeeBand,
    MenuCategory,
    MenuItem,
    OpeningHours,
    Option,
    OptionGroup,
    SetMeal,
    SetMealComponent,
    Store,
    StoreMembership,
)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    name_zh = factory.Sequence(lambda n: f"测试小馆{n}")
    name_en = factory.Sequence(lambda n: f"Test Kitchen {n}")
    address = "上海市南京西路1号"
    location = factory.LazyFunction(lambda: Point(121.45, 31.23, srid=4326))
    status = Store.Status.LIVE


class StoreMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreMembership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
    role = StoreMembership.Role.OWNER


@dataclass(frozen=True)
class MenuStore:
    """A live store open around the clock, delivering within ~2 km, with a small real menu."""

    store: Store
    noodles: MenuItem  # option groups: size (exactly 1: regular +0 / large +300), spice (0-1)
    regular: Option
    large: Option
    mild: Option
    tea: MenuItem  # no options
    set_meal: SetMeal  # noodles + tea at 2800


def build_menu_store(**store_fields: object) -> MenuStore:
    fields: dict[str, object] = {
        "zone": square_zone(121.45, 31.23, 0.02),
        "min_order_cents": 1500,
        "packaging_fee_cents": 200,
        "default_prep_minutes": 12,
        **store_fields,
    }
    store: Store = StoreFactory(**fields)
    DeliveryFeeBand.objects.bulk_create(
        [
            DeliveryFeeBand(store=store, up_to_m=1000, fee_cents=300),
            DeliveryFeeBand(store=store, up_to_m=3000, fee_cents=600),
        ]
    )
    OpeningHours.objects.bulk_create(
        [OpeningHours(store=store, weekday=d, opens=time(0, 0), closes=time(0, 0)) for d in range(7)]
    )
    mains = MenuCategory.objects.create(store=store, name_zh="面", name_en="Noodles")
    noodles = MenuItem.objects.create(
        store=store,
        category=mains,
        name_zh="葱油拌面",
        name_en="Scallion oil noodles",
        price_cents=1800,
        allergens=["gluten", "soy"],
    )
    size = OptionGroup.objects.create(item=noodles, name_zh="份量", name_en="Size", min_choices=1, max_choices=1)
    regular = Option.objects.create(group=size, name_zh="标准", name_en="Regular", price_delta_cents=0)
    large = Option.objects.create(group=size, name_zh="大份", name_en="Large", price_delta_cents=300)
    spice = OptionGroup.objects.create(item=noodles, name_zh="辣度", name_en="Spice", min_choices=0, max_choices=1)
    mild = Option.objects.create(group=spice, name_zh="微辣", name_en="Mild", price_delta_cents=0)
    tea = MenuItem.objects.create(store=store, category=mains, name_zh="柠檬茶", name_en="Lemon tea", price_cents=900)
    meal = SetMeal.objects.create(
        store=store, category=mains, name_zh="面+茶套餐", name_en="Noodles & tea", price_cents=2800
    )
    SetMealComponent.objects.bulk_create(
        [SetMealComponent(set_meal=meal, item=noodles), SetMealComponent(set_meal=meal, item=tea)]
    )
    return MenuStore(store, noodles, regular, large, mild, tea, meal)
