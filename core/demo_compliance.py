"""The demo city's compliance records: who runs each store, their licences, staff certificates,
inspections, and a few merchants with something for the regulators to find.

Numbers are made up but well formed: credit codes and resident IDs carry a correct check
character (python-stdnum computes it), food-business licences are `JY` + type + Shanghai's
province code 31 + county + sequence + a digit. Idempotent, like the rest of the demo.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from stdnum.cn import ric, uscc

from compliance.inspections.schemes import ViolationInput
from compliance.inspections.services import inspection_record
from compliance.models import HealthCertificate, LegalEntity, Licence, StaffMember, StoreRegistration, Verification
from compliance.services.flags import flags_evaluate
from compliance.validators import mask_resident_id
from core.identity import identity_hash
from delivery.models import Store
from dispatch.models import Courier

# Which demo stores (1-based, in core.demo.STORES order) carry a finding, and which one:
# two stores on one food-business licence (一证多店), an expired licence, kitchen staff without a
# valid health certificate, and a failed inspection. The rest are in good standing.
SHARED_LICENCE = (5, 6)
EXPIRED_LICENCE = 9
STAFF_WITHOUT_CERTIFICATE = 12
FAILED_INSPECTION = 15
# The couriers (1-based) left without a certificate: the gate keeps them offline.
UNCERTIFIED_COURIERS = (40,)


def _credit_code(index: int) -> str:
    base = f"91310106MA1F{index:04d}0"
    return base + uscc.calc_check_digit(base)


def _resident_id(index: int) -> str:
    base = f"310106198{index % 10}0{1 + index % 9}1{index % 10}{index:03d}"[:17]
    return base + ric.calc_check_digit(base)


def _food_licence(index: int) -> str:
    return f"JY23101060{index:05d}1"


def seed_demo_compliance(stores: list[Store]) -> dict[str, int]:
    today = timezone.localdate()
    operator_verified = {"verification": Verification.VERIFIED, "verified_at": timezone.now()}
    for index, store in enumerate(stores, start=1):
        id_number = _resident_id(index)
        entity, _ = LegalEntity.objects.get_or_create(
            external_ref=f"demo-e{index}",
            defaults={
                "name": f"上海{store.name_zh}餐饮管理有限公司",
                "uscc": _credit_code(index),
                "legal_rep_name": "张" + "伟芳娜敏静丽强磊军洋"[index % 10],
                "legal_rep_id_hash": identity_hash(id_number, purpose="resident-id"),
                "legal_rep_id_masked": mask_resident_id(id_number),
                "legal_rep_id_check": "valid",
                "registered_address": store.address,
            },
        )
        StoreRegistration.objects.get_or_create(
            store=store,
            defaults={
                "entity": entity,
                "external_ref": f"demo-s{index}",
                "opened_on": today - datetime.timedelta(days=400 + 20 * index),
                "open_kitchen_url": f"https://live.example.org/kitchen/{index}" if index % 4 == 1 else "",
            },
        )
        Licence.objects.get_or_create(
            external_ref=f"demo-lb{index}",
            defaults={
                "kind": Licence.Kind.BUSINESS,
                "number": entity.uscc,
                "entity": entity,
                "valid_from": today - datetime.timedelta(days=1500),
                **operator_verified,
            },
        )
        number = _food_licence(SHARED_LICENCE[0] if index in SHARED_LICENCE else index)
        expired = index == EXPIRED_LICENCE
        Licence.objects.get_or_create(
            external_ref=f"demo-lf{index}",
            defaults={
                "kind": Licence.Kind.FOOD_BUSINESS,
                "number": number,
                "store": store,
                "valid_from": today - datetime.timedelta(days=1400 if expired else 700),
                "valid_to": today - datetime.timedelta(days=12) if expired else today + datetime.timedelta(days=1100),
                **operator_verified,
            },
        )
        staff, _ = StaffMember.objects.get_or_create(
            external_ref=f"demo-p{index}",
            defaults={"store": store, "name": "厨师 " + store.name_zh[:2], "id_masked": "310***********0011"},
        )
        if index != STAFF_WITHOUT_CERTIFICATE and not staff.health_certificates.exists():
            HealthCertificate.objects.create(
                staff=staff,
                number=f"HC2026-{index:04d}",
                valid_from=today - datetime.timedelta(days=100),
                valid_to=today + datetime.timedelta(days=265),
                **operator_verified,
            )
        failed = index == FAILED_INSPECTION
        violations = (
            [
                ViolationInput("04L", 12, True, "Evidence of mice"),
                ViolationInput("02G", 10, True, "Cold food held warm"),
                ViolationInput("10F", 8, False, "Non-food contact surface"),
            ]
            if failed
            else [ViolationInput("10F", 2 + index % 9, False, "Non-food contact surface")]
        )
        inspection_record(
            store=store,
            inspected_on=today - datetime.timedelta(days=20 + 7 * index),
            scheme="nyc",
            violations=violations,
            external_ref=f"demo-i{index}",
        )

    for index, courier in enumerate(Courier.objects.order_by("pk"), start=1):
        if index in UNCERTIFIED_COURIERS or courier.health_certificates.exists():
            continue
        HealthCertificate.objects.create(
            courier=courier,
            number=f"HC2026-C{index:04d}",
            valid_from=today - datetime.timedelta(days=30),
            valid_to=today + datetime.timedelta(days=335),
            **operator_verified,
        )

    result = flags_evaluate(as_of=today)
    return {"entities": LegalEntity.objects.count(), "flags": result.raised + result.updated}
