"""The demo city: part of Shanghai's Jing'an and Huangpu districts, with menus (core.demo_menus),
delivery zones, fees, hours and a few coupons.

Coordinates are WGS 84 (as OpenStreetMap draws them; Chinese consumer maps shift by a few hundred
metres with GCJ-02), placed by hand on real streets, to about 100 m. The restaurants are
invented; the streets are not. The district polygons are coarse hand-drawn outlines, good
enough to give each regulator a jurisdiction, not survey boundaries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import transaction
from django.utils import timezone

from accounts.models import DinerProfile, RegulatorProfile, User
from core.demo_compliance import seed_demo_compliance
from core.demo_menus import CUISINES, Cuisine
from delivery.models import (
    Coupon,
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
from delivery.services.zones import store_zone_set_radius
from dispatch.models import Courier


@dataclass(frozen=True)
class DemoStore:
    name_zh: str
    name_en: str
    address: str
    lat: float
    lng: float
    prep_minutes: int


STORES: tuple[DemoStore, ...] = (
    # Jing'an (south of Suzhou Creek)
    DemoStore("静安小笼馆", "Jing'an Xiaolong House", "南京西路1699号附近", 31.2236, 121.4456, 15),
    DemoStore("弄堂生煎", "Lane Shengjian", "吴江路169号附近", 31.2317, 121.4621, 12),
    DemoStore("愚园路葱油拌面", "Yuyuan Road Scallion Noodles", "愚园路68号附近", 31.2238, 121.4362, 10),
    DemoStore("嘉里轻食", "Kerry Green Bowl", "南京西路1515号附近", 31.2245, 121.4499, 8),
    DemoStore("昌平路湘菜馆", "Changping Hunan Fire", "昌平路300号附近", 31.2380, 121.4450, 20),
    DemoStore("新闸路东北饺子", "Xinzha Dongbei Dumplings", "新闸路900号附近", 31.2372, 121.4590, 18),
    DemoStore("石门一路港式茶餐厅", "Shimen HK Cha Chaan Teng", "石门一路200号附近", 31.2300, 121.4620, 15),
    DemoStore("常德路咖啡", "Changde Road Coffee", "常德路120号附近", 31.2280, 121.4480, 5),
    DemoStore("康定路兰州拉面", "Kangding Lanzhou Noodles", "康定路500号附近", 31.2330, 121.4470, 10),
    DemoStore("威海路重庆小面", "Weihai Chongqing Xiaomian", "威海路400号附近", 31.2280, 121.4600, 10),
    DemoStore("江宁路粤式烧腊", "Jiangning Cantonese Roast", "江宁路600号附近", 31.2360, 121.4530, 15),
    DemoStore("华山路日式拉面", "Huashan Ramen Bar", "华山路100号附近", 31.2220, 121.4420, 14),
    DemoStore("上海商城泰式厨房", "Shanghai Centre Thai Kitchen", "南京西路1376号附近", 31.2266, 121.4528, 18),
    DemoStore("恒隆意式披萨", "Plaza Napoli Pizza", "南京西路1266号附近", 31.2290, 121.4546, 20),
    DemoStore("北京西路云南米线", "Beijing West Yunnan Noodles", "北京西路1000号附近", 31.2340, 121.4560, 12),
    # Huangpu
    DemoStore("人民广场本帮菜", "People's Square Benbang Kitchen", "西藏中路100号附近", 31.2317, 121.4752, 22),
    DemoStore("南京东路黄鱼面", "Nanjing East Yellow Croaker Noodles", "南京东路300号附近", 31.2360, 121.4810, 15),
    DemoStore("外滩咖啡烘焙", "Bund Coffee & Bakery", "中山东一路附近", 31.2400, 121.4900, 6),
    DemoStore("豫园汤团", "Yuyuan Tangyuan", "方浜中路附近", 31.2272, 121.4921, 10),
    DemoStore("新天地越南河粉", "Xintiandi Saigon Pho", "马当路附近", 31.2196, 121.4745, 14),
    DemoStore("淮海中路韩式炸鸡", "Huaihai Seoul Fried Chicken", "淮海中路300号附近", 31.2210, 121.4700, 18),
    DemoStore("田子坊奶茶研究所", "Tianzifang Tea Lab", "泰康路210弄附近", 31.2093, 121.4689, 5),
    DemoStore("打浦桥沙县小吃", "Dapuqiao Shaxian Snacks", "徐家汇路附近", 31.2070, 121.4710, 8),
    DemoStore("老西门桂林米粉", "Laoximen Guilin Rice Noodles", "中华路附近", 31.2210, 121.4850, 10),
    DemoStore("思南路素食斋", "Sinan Jade Vegetarian", "思南路附近", 31.2150, 121.4690, 16),
    DemoStore("云南南路羊肉馆", "Yunnan South Lamb House", "云南南路附近", 31.2300, 121.4820, 20),
    DemoStore("黄河路排骨年糕", "Huanghe Road Pork Chop & Rice Cake", "黄河路附近", 31.2360, 121.4720, 15),
    DemoStore("福州路新疆大盘鸡", "Fuzhou Road Xinjiang Chicken", "福州路附近", 31.2340, 121.4850, 25),
    DemoStore("董家渡潮汕牛肉", "Dongjiadu Chaoshan Beef", "董家渡路附近", 31.2170, 121.5000, 20),
    DemoStore("十六铺烤鸭", "Shiliupu Roast Duck", "中山南路附近", 31.2320, 121.4980, 25),
)

# Coarse outlines (lng, lat), drawn by hand around the demo area.
JINGAN_OUTLINE = (
    (121.425, 31.218),
    (121.447, 31.214),
    (121.466, 31.222),
    (121.474, 31.232),
    (121.470, 31.245),
    (121.478, 31.262),
    (121.475, 31.300),
    (121.445, 31.300),
    (121.440, 31.260),
    (121.428, 31.240),
    (121.425, 31.218),
)
HUANGPU_OUTLINE = (
    (121.466, 31.222),
    (121.474, 31.232),
    (121.470, 31.245),
    (121.485, 31.247),
    (121.495, 31.245),
    (121.505, 31.225),
    (121.500, 31.195),
    (121.480, 31.195),
    (121.465, 31.200),
    (121.460, 31.212),
    (121.466, 31.222),
)

COURIER_COUNT = 40
VEHICLES = (
    (Courier.Vehicle.EBIKE, 18, 3),
    (Courier.Vehicle.EBIKE, 18, 3),
    (Courier.Vehicle.MOTORBIKE, 25, 4),
    (Courier.Vehicle.BICYCLE, 12, 2),
)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    note: str


def demo_logins() -> list[DemoLogin]:
    """One login per role (every demo account shares DEMO_PASSWORD)."""
    return [
        DemoLogin("diner", "diner", "orders in Jing'an"),
        DemoLogin("restaurant owner", "owner", STORES[0].name_en),
        DemoLogin("courier", "courier", "e-bike"),
        DemoLogin("regulator", "regulator", "Jing'an district"),
        DemoLogin("regulator", "regulator-huangpu", "Huangpu district"),
        DemoLogin("operator", "operator", "Django admin at /admin/"),
    ]


def _user(username: str, password_hash: str, **fields: object) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"password": password_hash, **fields})
    return user


def _outline(points: tuple[tuple[float, float], ...]) -> MultiPolygon:
    return MultiPolygon(Polygon(points, srid=4326), srid=4326)


# Opening periods per store, local time; closes <= opens runs past midnight. A few stores are open
# around the clock so that the demo has restaurants at any hour.
ALL_DAY = ((time(0, 0), time(0, 0)),)
DAYTIME = ((time(10, 0), time(22, 0)),)
BREAKFAST_TO_EVENING = ((time(7, 30), time(20, 0)),)
TWO_SERVICES = ((time(6, 30), time(14, 0)), (time(16, 30), time(21, 30)))
LATE_NIGHT = ((time(11, 0), time(2, 0)),)
HOURS = (
    ALL_DAY,
    DAYTIME,
    TWO_SERVICES,
    BREAKFAST_TO_EVENING,
    DAYTIME,
    DAYTIME,
    ALL_DAY,
    BREAKFAST_TO_EVENING,
    TWO_SERVICES,
    LATE_NIGHT,
) * 3
FEE_BANDS = ((1000, 300), (3000, 500), (5000, 800))


def _seed_menu(store: Store, cuisine: Cuisine) -> None:
    if store.menu_categories.exists():
        return
    first_dishes: list[MenuItem] = []
    for position, (name_zh, name_en, dishes) in enumerate(cuisine.categories):
        category = MenuCategory.objects.create(store=store, name_zh=name_zh, name_en=name_en, position=position)
        for dish_position, dish in enumerate(dishes):
            item = MenuItem.objects.create(
                store=store,
                category=category,
                name_zh=dish.name_zh,
                name_en=dish.name_en,
                price_cents=dish.price_cents,
                allergens=list(dish.allergens),
                description=dish.description,
                position=dish_position,
            )
            first_dishes.append(item)
            for group_position, (g_zh, g_en, low, high, options) in enumerate(dish.options):
                group = OptionGroup.objects.create(
                    item=item, name_zh=g_zh, name_en=g_en, min_choices=low, max_choices=high, position=group_position
                )
                Option.objects.bulk_create(
                    Option(group=group, name_zh=o_zh, name_en=o_en, price_delta_cents=delta, position=i)
                    for i, (o_zh, o_en, delta) in enumerate(options)
                )
    meal_zh, meal_en, meal_price = cuisine.set_meal
    if meal_price and len(first_dishes) >= 2:
        meal = SetMeal.objects.create(
            store=store,
            category=first_dishes[0].category,
            name_zh=meal_zh,
            name_en=meal_en,
            price_cents=meal_price,
        )
        # The set meal: the first dish of the first category and the last dish of the menu.
        SetMealComponent.objects.bulk_create(
            [
                SetMealComponent(set_meal=meal, item=first_dishes[0]),
                SetMealComponent(set_meal=meal, item=first_dishes[-1]),
            ]
        )


def _seed_trading_terms(store: Store, index: int) -> None:
    """Zone, fee bands, hours, minimum order and packaging fee; each kept when already set."""
    if store.zone is None:
        store_zone_set_radius(store=store, radius_m=5000 if index % 5 == 0 else 3000)
    if not store.fee_bands.exists():
        DeliveryFeeBand.objects.bulk_create(
            DeliveryFeeBand(store=store, up_to_m=up_to, fee_cents=fee) for up_to, fee in FEE_BANDS
        )
    if not store.opening_hours.exists():
        OpeningHours.objects.bulk_create(
            OpeningHours(store=store, weekday=day, opens=opens, closes=closes)
            for day in range(7)
            for opens, closes in HOURS[index]
        )
    Store.objects.filter(pk=store.pk, min_order_cents=0).update(
        min_order_cents=1500 + 500 * (index % 4), packaging_fee_cents=100 + 100 * (index % 3)
    )


def _seed_coupons(first_store: Store) -> None:
    now = timezone.now()
    for code, kind, store, funded_by, threshold, discount, per_diner in (
        ("NEWDINER10", Coupon.Kind.NEW_DINER, None, Coupon.FundedBy.PLATFORM, 2000, 1000, 1),
        ("MAN30JIAN5", Coupon.Kind.SPEND_SAVE, None, Coupon.FundedBy.PLATFORM, 3000, 500, 3),
        ("XIAOLONG8", Coupon.Kind.SPEND_SAVE, first_store, Coupon.FundedBy.STORE, 5000, 800, 2),
    ):
        Coupon.objects.get_or_create(
            code=code,
            defaults={
                "kind": kind,
                "store": store,
                "funded_by": funded_by,
                "threshold_cents": threshold,
                "discount_cents": discount,
                "per_diner_limit": per_diner,
                "valid_from": now - timedelta(days=1),
                "valid_to": now + timedelta(days=365),
            },
        )


@transaction.atomic
def seed_demo_city(*, password: str | None = None) -> dict[str, int]:
    """Create the demo city; idempotent (existing accounts and stores are kept as they are)."""
    password_hash = make_password(password or settings.DEMO_PASSWORD)
    rng = random.Random(20261123)  # noqa: S311 - not crypto: a fixed seed, the same city every time

    diner = _user("diner", password_hash, display_name="小王 Xiao Wang")
    DinerProfile.objects.get_or_create(user=diner)
    _user("operator", password_hash, display_name="平台运营 Operator", is_staff=True, is_superuser=True)

    for username, agency, name, outline in (
        ("regulator", "静安区市场监督管理局", "静安区 Jing'an", JINGAN_OUTLINE),
        ("regulator-huangpu", "黄浦区市场监督管理局", "黄浦区 Huangpu", HUANGPU_OUTLINE),
    ):
        regulator = _user(username, password_hash, display_name=agency)
        RegulatorProfile.objects.get_or_create(
            user=regulator,
            defaults={"agency": agency, "jurisdiction_name": name, "district": _outline(outline)},
        )

    for index, demo in enumerate(STORES, start=1):
        store, _ = Store.objects.get_or_create(
            name_zh=demo.name_zh,
            defaults={
                "name_en": demo.name_en,
                "address": f"上海市 {demo.address}",
                "location": Point(demo.lng, demo.lat, srid=4326),
                "status": Store.Status.LIVE,
                "default_prep_minutes": demo.prep_minutes,
            },
        )
        owner = _user(
            "owner" if index == 1 else f"owner{index:02d}", password_hash, display_name=f"{demo.name_zh} 店主"
        )
        StoreMembership.objects.get_or_create(user=owner, store=store, defaults={"role": StoreMembership.Role.OWNER})
        _seed_trading_terms(store, index - 1)
        _seed_menu(store, CUISINES[index - 1])
        if index == 1:
            _seed_coupons(store)

    for index in range(1, COURIER_COUNT + 1):
        vehicle, speed, capacity = VEHICLES[index % len(VEHICLES)]
        user = _user(
            "courier" if index == 1 else f"courier{index:02d}", password_hash, display_name=f"骑手 {index:02d}"
        )
        Courier.objects.get_or_create(
            user=user,
            defaults={
                "vehicle": vehicle,
                "speed_kmh": speed,
                "capacity": capacity,
                "position": Point(rng.uniform(121.44, 121.50), rng.uniform(31.21, 31.24), srid=4326),
            },
        )

    counts = seed_demo_compliance([Store.objects.get(name_zh=demo.name_zh) for demo in STORES])
    return {
        **counts,
        "stores": Store.objects.count(),
        "dishes": MenuItem.objects.count(),
        "couriers": Courier.objects.count(),
        "users": User.objects.count(),
    }
