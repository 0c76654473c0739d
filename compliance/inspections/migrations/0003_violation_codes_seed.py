"""Seed the code lists regulators pick from (editable in the admin afterwards).

`nyc`: codes and descriptions from NYC DOHMH's inspection results (the nyc-dohmh fixture); the
points are the lowest condition level we saw for each in the data (02B alone scored 7) or our
default where the data shows none: check them against DOHMH's scoring parameters before use.
`cn`: items of the 餐饮服务食品安全监督检查 sheet (许可管理, 人员管理, 场所环境, 设施设备, 采购贮存,
加工制作, 清洗消毒, 食品添加剂) with deductions of our own on a 100-point sheet; 关键项 are critical.
`fhrs`: one code per component level (hygiene, structural, management), as the FSA scores them.
"""

from django.db import migrations

NYC = [
    ("02B", "Hot TCS food item not held at or above 140 °F.", 7, True),
    ("02G", "Cold TCS food item held above 41 °F.", 7, True),
    ("04A", "Food Protection Certificate not held by supervisor of food operations.", 5, True),
    ("04L", "Evidence of mice or live mice in establishment's food or non-food areas.", 5, True),
    ("04M", "Live roaches in facility's food or non-food area.", 5, True),
    ("06D", "Food contact surface not properly washed, rinsed and sanitized after each use.", 5, True),
    ("09B", "Thawing procedure improper.", 2, False),
    ("09E", "Wash hands sign not posted near or above hand washing sink.", 2, False),
    ("10C", "Lighting inadequate.", 2, False),
    ("10F", "Non-food contact surface improperly constructed or maintained.", 2, False),
    ("10H", "Proper sanitization not provided for utensil ware washing operation.", 2, False),
]

CN = [
    ("CN-01", "食品经营许可证未公示或超范围经营", "Licence not displayed or business beyond its scope", 10, True),
    ("CN-02", "从业人员未持有效健康证明上岗", "Staff working without a valid health certificate", 10, True),
    ("CN-03", "使用过期、变质或来源不明的食品原料", "Expired, spoiled or untraceable ingredients", 15, True),
    ("CN-04", "未落实进货查验和索证索票", "Purchase inspection and supplier records missing", 5, False),
    ("CN-05", "生熟食品未分开存放或加工", "Raw and cooked food not kept apart", 10, True),
    ("CN-06", "餐饮具未清洗消毒或保洁不当", "Tableware not washed and disinfected", 10, True),
    ("CN-07", "超范围超限量使用食品添加剂", "Food additives beyond permitted use", 15, True),
    ("CN-08", "防鼠、防蝇、防虫设施不完善", "Pest-proofing inadequate", 5, False),
    ("CN-09", "加工场所卫生状况不良", "Premises not clean", 5, False),
    ("CN-10", "从业人员个人卫生不规范(工作衣帽、洗手)", "Staff hygiene (clothing, hand washing) lacking", 3, False),
    ("CN-11", "留样不符合要求", "Food samples not kept as required", 3, False),
]

FHRS = [
    *[(f"hygiene-{p}", f"Hygiene (food handling) score {p}", p, p >= 15) for p in (5, 10, 15, 20, 25)],
    *[(f"structural-{p}", f"Structural compliance score {p}", p, p >= 15) for p in (5, 10, 15, 20, 25)],
    *[(f"management-{p}", f"Confidence in management score {p}", p, p >= 20) for p in (5, 10, 20, 30)],
]


def seed(apps, schema_editor):
    ViolationCode = apps.get_model("inspections", "ViolationCode")
    rows = [
        *[
            ViolationCode(scheme="nyc", code=c, description=d, description_en=d, points=p, critical=k)
            for c, d, p, k in NYC
        ],
        *[
            ViolationCode(scheme="cn", code=c, description=d, description_en=e, points=p, critical=k)
            for c, d, e, p, k in CN
        ],
        *[
            ViolationCode(scheme="fhrs", code=c, description=d, description_en=d, points=p, critical=k)
            for c, d, p, k in FHRS
        ],
    ]
    ViolationCode.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    ViolationCode = apps.get_model("inspections", "ViolationCode")
    codes = [c for c, *_ in NYC] + [c for c, *_ in CN] + [c for c, *_ in FHRS]
    ViolationCode.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("inspections", "0002_grades_codes_events")]
    operations = [migrations.RunPython(seed, unseed)]
