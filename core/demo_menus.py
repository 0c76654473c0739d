"""Menus of the demo city's restaurants: real dishes of each cuisine, invented prices (cents).

Each cuisine lists categories of dishes; a dish may carry option groups (size, spice) and the
cuisine one set meal (套餐) made of its first dishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPICE = (
    "辣度",
    "Spice",
    0,
    1,
    (("不辣", "Not spicy", 0), ("微辣", "Mild", 0), ("中辣", "Medium", 0), ("特辣", "Hot", 0)),
)
SIZE = ("份量", "Size", 1, 1, (("标准", "Regular", 0), ("大份", "Large", 400)))
SUGAR = ("甜度", "Sweetness", 1, 1, (("全糖", "Full sugar", 0), ("半糖", "Half sugar", 0), ("无糖", "No sugar", 0)))
EXTRA_EGG = ("加料", "Extras", 0, 2, (("加蛋", "Add an egg", 200), ("加肉", "Extra meat", 600)))

OptionGroupSpec = tuple[str, str, int, int, tuple[tuple[str, str, int], ...]]


@dataclass(frozen=True)
class Dish:
    name_zh: str
    name_en: str
    price_cents: int
    allergens: tuple[str, ...] = ()
    options: tuple[OptionGroupSpec, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Cuisine:
    categories: tuple[tuple[str, str, tuple[Dish, ...]], ...]
    set_meal: tuple[str, str, int] = ("招牌套餐", "Signature set", 0)
    extra: dict[str, str] = field(default_factory=dict)


NOODLES = Cuisine(
    (
        (
            "面",
            "Noodles",
            (
                Dish("葱油拌面", "Scallion oil noodles", 1600, ("gluten", "soy"), (SIZE, EXTRA_EGG)),
                Dish("黄鱼面", "Yellow croaker noodle soup", 3800, ("gluten", "fish"), (SIZE,)),
                Dish("大排面", "Pork chop noodle soup", 2800, ("gluten", "soy"), (SIZE, SPICE)),
            ),
        ),
        (
            "小食",
            "Sides",
            (
                Dish("烤麸", "Braised wheat gluten", 1200, ("gluten", "soy")),
                Dish("酸梅汤", "Sour plum drink", 600),
            ),
        ),
    ),
    ("面+小食套餐", "Noodles & side set", 2400),
)
DUMPLINGS = Cuisine(
    (
        (
            "点心",
            "Dim sum",
            (
                Dish("小笼包（8只）", "Xiaolongbao (8)", 2200, ("gluten", "soy")),
                Dish("生煎包（4只）", "Pan-fried pork buns (4)", 1500, ("gluten", "soy", "sesame")),
                Dish("蟹粉小笼（6只）", "Crab-roe xiaolongbao (6)", 4800, ("gluten", "crustaceans")),
            ),
        ),
        (
            "汤",
            "Soups",
            (
                Dish("鸡鸭血汤", "Chicken & duck blood soup", 1200),
                Dish("油豆腐粉丝汤", "Tofu puff vermicelli soup", 1000, ("soy",)),
            ),
        ),
    ),
    ("小笼+汤套餐", "Xiaolongbao & soup set", 2900),
)
SICHUAN = Cuisine(
    (
        (
            "热菜",
            "Mains",
            (
                Dish("麻婆豆腐", "Mapo tofu", 2600, ("soy",), (SPICE,)),
                Dish("宫保鸡丁", "Kung pao chicken", 3200, ("peanuts", "soy"), (SPICE,)),
                Dish("水煮牛肉", "Boiled beef in chilli oil", 4800, ("soy",), (SPICE,)),
                Dish("米饭", "Steamed rice", 300),
            ),
        ),
        (
            "小面",
            "Noodles",
            (Dish("重庆小面", "Chongqing xiaomian", 1800, ("gluten", "peanuts", "sesame"), (SPICE, SIZE)),),
        ),
    ),
    ("一人食套餐", "Single-diner set", 3500),
)
CANTONESE = Cuisine(
    (
        (
            "烧腊",
            "Roast meats",
            (
                Dish("蜜汁叉烧饭", "Honey char siu rice", 3200, ("soy",)),
                Dish("白切鸡饭", "White-cut chicken rice", 3000),
                Dish("烧鸭饭", "Roast duck rice", 3400, ("soy",)),
            ),
        ),
        (
            "饮品",
            "Drinks",
            (
                Dish("冻柠茶", "Iced lemon tea", 1200, (), (SUGAR,)),
                Dish("港式奶茶", "Hong Kong milk tea", 1400, ("milk",), (SUGAR,)),
            ),
        ),
    ),
    ("叉烧饭+奶茶", "Char siu rice & milk tea", 3900),
)
RAMEN = Cuisine(
    (
        (
            "拉面",
            "Ramen",
            (
                Dish("豚骨拉面", "Tonkotsu ramen", 4200, ("gluten", "soy", "eggs"), (SIZE, EXTRA_EGG)),
                Dish("酱油拉面", "Shoyu ramen", 3800, ("gluten", "soy", "eggs"), (SIZE,)),
            ),
        ),
        (
            "小食",
            "Sides",
            (
                Dish("日式煎饺", "Gyoza", 1800, ("gluten", "soy")),
                Dish("炸鸡块", "Karaage", 2200, ("gluten", "soy")),
            ),
        ),
    ),
    ("拉面+煎饺", "Ramen & gyoza", 5200),
)
THAI_VIET = Cuisine(
    (
        (
            "主食",
            "Mains",
            (
                Dish("冬阴功汤", "Tom yum soup", 4200, ("crustaceans", "fish"), (SPICE,)),
                Dish("泰式炒河粉", "Pad thai", 3600, ("peanuts", "eggs", "fish"), (SPICE,)),
                Dish("越南牛肉河粉", "Beef pho", 3800, ("fish",), (SIZE,)),
            ),
        ),
        ("饮品", "Drinks", (Dish("椰子水", "Coconut water", 1500),)),
    ),
    ("河粉+椰子水", "Pho & coconut water", 4800),
)
BOWLS = Cuisine(
    (
        (
            "轻食",
            "Bowls",
            (
                Dish("牛油果鸡胸碗", "Avocado chicken bowl", 4600, ("sesame",)),
                Dish("三文鱼藜麦碗", "Salmon quinoa bowl", 5800, ("fish", "soy")),
                Dish("豆腐蔬菜碗", "Tofu vegetable bowl", 3800, ("soy",)),
            ),
        ),
        ("饮品", "Drinks", (Dish("冷萃咖啡", "Cold brew", 2200), Dish("鲜榨橙汁", "Fresh orange juice", 1800))),
    ),
    ("轻食+饮品", "Bowl & drink", 5600),
)
COFFEE = Cuisine(
    (
        (
            "咖啡",
            "Coffee",
            (
                Dish("美式", "Americano", 1800, (), (SIZE,)),
                Dish("拿铁", "Latte", 2400, ("milk",), (SIZE, SUGAR)),
                Dish("手冲单品", "Pour-over", 3200),
            ),
        ),
        (
            "烘焙",
            "Bakery",
            (
                Dish("牛角包", "Croissant", 1600, ("gluten", "milk", "eggs")),
                Dish("葡式蛋挞", "Portuguese egg tart", 900, ("gluten", "milk", "eggs")),
            ),
        ),
    ),
    ("拿铁+牛角包", "Latte & croissant", 3600),
)
BENBANG = Cuisine(
    (
        (
            "本帮菜",
            "Shanghainese",
            (
                Dish("红烧肉", "Red-braised pork belly", 5800, ("soy",)),
                Dish("油爆虾", "Oil-exploded shrimp", 6800, ("crustaceans", "soy")),
                Dish("腌笃鲜", "Bamboo shoot & pork soup", 4800),
                Dish("米饭", "Steamed rice", 300),
            ),
        ),
        ("点心", "Snacks", (Dish("排骨年糕", "Pork chop & rice cake", 2600, ("gluten", "soy")),)),
    ),
    ("红烧肉套餐", "Braised pork set", 4600),
)
NORTHWEST = Cuisine(
    (
        (
            "面食",
            "Noodles",
            (
                Dish("兰州牛肉面", "Lanzhou beef noodles", 1800, ("gluten",), (SIZE, SPICE)),
                Dish("新疆拌面", "Xinjiang laghman", 3200, ("gluten",), (SPICE,)),
            ),
        ),
        (
            "大菜",
            "Large plates",
            (
                Dish("大盘鸡", "Big plate chicken", 8800, ("gluten",), (SPICE,)),
                Dish("羊肉串（5串）", "Lamb skewers (5)", 3000, (), (SPICE,)),
            ),
        ),
    ),
    ("牛肉面+羊肉串", "Beef noodles & skewers", 4200),
)
TEA = Cuisine(
    (
        (
            "奶茶",
            "Milk tea",
            (
                Dish("珍珠奶茶", "Bubble milk tea", 1500, ("milk",), (SIZE, SUGAR)),
                Dish("芝士葡萄", "Cheese-foam grape tea", 2200, ("milk",), (SUGAR,)),
                Dish("柠檬绿茶", "Lemon green tea", 1300, (), (SUGAR,)),
            ),
        ),
    ),
    ("双杯套餐", "Two-drink set", 2600),
)
DUMPLING_HOUSE = Cuisine(
    (
        (
            "饺子",
            "Dumplings",
            (
                Dish("猪肉白菜水饺（15只）", "Pork & cabbage dumplings (15)", 2400, ("gluten", "soy")),
                Dish("三鲜水饺（15只）", "Three-treasure dumplings (15)", 2800, ("gluten", "crustaceans", "eggs")),
                Dish("锅包肉", "Sweet-and-sour crispy pork", 4200, ("gluten",)),
            ),
        ),
    ),
    ("饺子+锅包肉", "Dumplings & crispy pork", 5600),
)

PIZZA = Cuisine(
    (
        (
            "披萨",
            "Pizza",
            (
                Dish("玛格丽特披萨", "Pizza margherita", 6800, ("gluten", "milk"), (SIZE,)),
                Dish("意式辣肠披萨", "Pizza diavola", 7800, ("gluten", "milk"), (SIZE,)),
            ),
        ),
        (
            "意面",
            "Pasta",
            (
                Dish("肉酱意面", "Spaghetti bolognese", 5800, ("gluten", "celery")),
                Dish("提拉米苏", "Tiramisu", 3800, ("gluten", "milk", "eggs")),
            ),
        ),
    ),
    ("披萨+提拉米苏", "Pizza & tiramisu", 9200),
)
KOREAN = Cuisine(
    (
        (
            "炸鸡",
            "Fried chicken",
            (
                Dish("原味炸鸡（半只）", "Classic fried chicken (half)", 5800, ("gluten",)),
                Dish(
                    "甜辣炸鸡（半只）", "Sweet-spicy fried chicken (half)", 6200, ("gluten", "soy", "sesame"), (SPICE,)
                ),
            ),
        ),
        (
            "小食",
            "Sides",
            (
                Dish("年糕", "Tteokbokki", 2800, ("soy",), (SPICE,)),
                Dish("石锅拌饭", "Bibimbap", 4200, ("eggs", "sesame", "soy"), (EXTRA_EGG,)),
            ),
        ),
    ),
    ("炸鸡+年糕", "Fried chicken & tteokbokki", 7800),
)

# Which cuisine each demo store serves (by its index in core.demo.STORES).
CUISINES: tuple[Cuisine, ...] = (
    DUMPLINGS,
    DUMPLINGS,
    NOODLES,
    BOWLS,
    SICHUAN,
    DUMPLING_HOUSE,
    CANTONESE,
    COFFEE,
    NORTHWEST,
    SICHUAN,
    CANTONESE,
    RAMEN,
    THAI_VIET,
    PIZZA,
    NOODLES,
    BENBANG,
    NOODLES,
    COFFEE,
    DUMPLINGS,
    THAI_VIET,
    KOREAN,
    TEA,
    NOODLES,
    NOODLES,
    BOWLS,
    NORTHWEST,
    BENBANG,
    NORTHWEST,
    CANTONESE,
    CANTONESE,
)
