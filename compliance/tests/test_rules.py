"""Each flag rule raises its flag when its cause is there, and not otherwise."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from compliance.models import Flag
from compliance.selectors import open_flags_report
from compliance.services.flags import flags_evaluate
from compliance.services.registry import registry_import
from compliance.tests import registries as r

pytestmark = pytest.mark.django_db


def scan(reg: dict[str, Any], as_of: datetime.date = r.AS_OF) -> set[tuple[str, str]]:
    registry_import(data=reg)
    flags_evaluate(as_of=as_of)
    return {(f["code"], f["store"] or f["entity"]) for f in open_flags_report()}


def flag(code: str, subject: str) -> dict[str, Any]:
    for f in open_flags_report():
        if f["code"] == code and subject in (f["store"], f["entity"]):
            return f
    raise AssertionError(f"no {code} on {subject}")


def test_a_clean_registry_raises_nothing() -> None:
    assert scan(r.clean()) == set()


def test_licence_missing_for_store_and_entity() -> None:
    reg = r.clean()
    reg["licences"] = [lic for lic in reg["licences"] if lic["ref"] not in {"lf1", "lb2"}]
    assert scan(reg) == {("LICENCE_MISSING", "s1"), ("LICENCE_MISSING", "e2")}
    assert flag("LICENCE_MISSING", "s1")["evidence"]["missing"] == "food_business"


def test_licence_missing_ignores_a_closed_store() -> None:
    reg = r.clean()
    reg["licences"] = [lic for lic in reg["licences"] if lic["ref"] != "lf1"]
    r.record(reg, "stores", "s1").update(status="closed", closed_on="2026-01-01")
    assert scan(reg) == set()


def test_licence_expired_and_expiring() -> None:
    reg = r.clean()
    r.record(reg, "licences", "lf1")["valid_to"] = "2026-11-01"
    r.record(reg, "licences", "lf2")["valid_to"] = "2026-12-10"  # 17 days left
    r.record(reg, "licences", "lf3")["valid_to"] = "2027-01-10"  # 48 days: fine
    assert scan(reg) == {("LICENCE_EXPIRED", "s1"), ("LICENCE_EXPIRING", "s2")}
    evidence = flag("LICENCE_EXPIRING", "s2")["evidence"]
    assert evidence == {"licence": r.food_licence(2), "valid_to": "2026-12-10", "days": 17}


def test_a_renewed_licence_is_not_expired() -> None:
    reg = r.clean()
    r.record(reg, "licences", "lf1")["valid_to"] = "2026-11-01"
    reg["licences"].append(
        {
            "ref": "lf1b",
            "store": "s1",
            "kind": "food_business",
            "number": r.food_licence(901),
            "valid_from": "2026-11-01",
            "valid_to": "2031-11-01",
        }
    )
    assert scan(reg) == set()


def test_licence_invalid_food_number_and_credit_code_check_character() -> None:
    reg = r.clean()
    r.record(reg, "licences", "lf1")["number"] = "JY93101060000011"  # business type 9
    code = r.credit_code(2)
    broken = code[:-1] + ("0" if code[-1] != "0" else "1")
    r.record(reg, "entities", "e2")["uscc"] = broken
    r.record(reg, "licences", "lb2")["number"] = broken
    assert scan(reg) == {("LICENCE_INVALID", "s1"), ("LICENCE_INVALID", "e2")}
    entity_flag = flag("LICENCE_INVALID", "e2")
    assert entity_flag["evidence"]["review"] is True  # a failed check character goes to review
    assert {n["check"] for n in entity_flag["evidence"]["numbers"]} == {"check_failed"}


def test_licence_shared_between_two_stores() -> None:
    reg = r.clean()
    r.record(reg, "licences", "lf2")["number"] = r.food_licence(1)
    assert scan(reg) == {("LICENCE_SHARED", "s1"), ("LICENCE_SHARED", "s2")}
    others = flag("LICENCE_SHARED", "s1")["evidence"]["other_stores"]
    assert [o["ref"] for o in others] == ["s2"]


def test_address_shared_by_address_and_by_distance() -> None:
    reg = r.clean(4)
    # s2 claims s1's address (pin elsewhere); s4's pin is 10 m from s3's.
    r.record(reg, "stores", "s2")["address"] = r.address(1)
    s3 = r.record(reg, "stores", "s3")
    r.record(reg, "stores", "s4").update(lat=s3["lat"] + 0.00009, lng=s3["lng"])
    reg["gazetteer"] = [g for g in reg["gazetteer"] if g["address"] != r.address(4)]
    reg["gazetteer"].append({"address": r.address(4), "lat": s3["lat"] + 0.00009, "lng": s3["lng"]})
    found = scan(reg)
    assert {("ADDRESS_SHARED", s) for s in ("s1", "s2", "s3", "s4")} <= found
    others = flag("ADDRESS_SHARED", "s4")["evidence"]["other_stores"]
    assert others[0]["ref"] == "s3"
    assert 5 < others[0]["distance_m"] < 15


def test_address_shared_not_raised_at_a_listed_food_court() -> None:
    reg = r.clean(3)
    s1 = r.record(reg, "stores", "s1")
    for ref in ("s2", "s3"):
        r.record(reg, "stores", ref).update(address=s1["address"], lat=s1["lat"] + 0.0001, lng=s1["lng"])
    without_site = scan(r.copy_of(reg))
    assert ("ADDRESS_SHARED", "s1") in without_site
    reg["multi_tenant_sites"].append({"name": "美食广场", "address": s1["address"], "lat": s1["lat"], "lng": s1["lng"]})
    assert not {code for code, _ in scan(reg)} & {"ADDRESS_SHARED"}


def test_address_shared_only_between_live_stores() -> None:
    reg = r.clean(2)
    r.record(reg, "stores", "s2").update(address=r.address(1), status="paused")
    assert not any(code == "ADDRESS_SHARED" for code, _ in scan(reg))


def test_pin_mismatch_over_500_m_only() -> None:
    reg = r.clean(2)
    r.record(reg, "stores", "s1")["lat"] += 0.009  # ~1 km north of its address
    r.record(reg, "stores", "s2")["lat"] += 0.002  # ~220 m: within tolerance
    assert scan(reg) == {("PIN_MISMATCH", "s1")}
    evidence = flag("PIN_MISMATCH", "s1")["evidence"]
    assert 950 < evidence["distance_m"] < 1050


def _sanction_s1(reg: dict[str, Any]) -> None:
    r.record(reg, "stores", "s1").update(status="closed", closed_on="2026-06-01")
    reg["sanctions"].append(
        {"ref": "x1", "store": "s1", "kind": "delisting", "decided_on": "2026-06-01", "reason": "无证经营"}
    )


def test_reregistration_by_credit_code() -> None:
    reg = r.clean(2)
    _sanction_s1(reg)
    r.add_store(reg, 50, entity="e1", name="新名字小馆")  # the delisted store's entity, new name
    found = scan(reg)
    assert ("REREGISTRATION", "s50") in found
    match = flag("REREGISTRATION", "s50")["evidence"]["matches"][0]
    assert "credit_code" in match["matched_by"] and match["kind"] == "delisting"
    assert ("REREGISTRATION", "s2") not in found


def test_reregistration_by_owner_identity() -> None:
    reg = r.clean(2)
    _sanction_s1(reg)
    r.add_store(reg, 60)
    r.record(reg, "entities", "e60")["legal_rep"]["id_number"] = r.resident_id(1)
    found = scan(reg)
    assert ("REREGISTRATION", "s60") in found
    assert flag("REREGISTRATION", "s60")["evidence"]["matches"][0]["matched_by"] == ["legal_rep_identity"]


def test_reregistration_by_licence() -> None:
    reg = r.clean(2)
    _sanction_s1(reg)
    r.add_store(reg, 70)
    r.record(reg, "licences", "lf70")["number"] = r.food_licence(1)
    found = scan(reg)
    assert ("REREGISTRATION", "s70") in found
    assert flag("REREGISTRATION", "s70")["evidence"]["matches"][0]["matched_by"] == ["licence"]


def test_a_warning_is_no_reason_for_reregistration() -> None:
    reg = r.clean(2)
    reg["sanctions"].append({"ref": "x1", "store": "s1", "kind": "warning", "decided_on": "2026-06-01"})
    r.add_store(reg, 50, entity="e1", name="新名字小馆")
    assert scan(reg) == set()


def test_credit_listed_for_three_years_and_abnormal_operation() -> None:
    reg = r.clean(3)
    reg["sanctions"] += [
        {"ref": "x1", "entity": "e1", "kind": "dishonest_list", "decided_on": "2025-01-01"},
        {"ref": "x2", "entity": "e2", "kind": "abnormal_operation", "decided_on": "2026-10-01"},
        {"ref": "x3", "entity": "e3", "kind": "dishonest_list", "decided_on": "2023-01-01"},  # ended 2026-01-01
    ]
    found = scan(reg)
    assert {("CREDIT_LISTED", "e1"), ("CREDIT_LISTED", "e2")} <= found
    assert ("CREDIT_LISTED", "e3") not in found
    assert flag("CREDIT_LISTED", "e1")["evidence"]["listings"][0]["until"] == "2028-01-01"


def test_health_cert_missing_or_expired() -> None:
    reg = r.clean(3)
    r.record(reg, "staff", "p1")["health_certificate"] = None
    r.record(reg, "staff", "p2")["health_certificate"]["valid_to"] = "2026-11-22"
    found = scan(reg)
    assert found == {("HEALTH_CERT_MISSING", "s1"), ("HEALTH_CERT_MISSING", "s2")}
    assert flag("HEALTH_CERT_MISSING", "s2")["evidence"]["staff"][0]["problem"] == "expired"
    assert flag("HEALTH_CERT_MISSING", "s1")["evidence"]["staff"][0]["problem"] == "missing"


def test_low_rating_needs_ten_recent_ratings() -> None:
    reg = r.clean(3)
    reg["ratings"] = [x for x in reg["ratings"] if x["store"] not in {"s1", "s2", "s3"}]
    reg["ratings"] += [{"store": "s1", "stars": 2, "at": "2026-11-20"} for _ in range(10)]
    reg["ratings"] += [{"store": "s2", "stars": 1, "at": "2026-11-20"} for _ in range(9)]  # too few
    reg["ratings"] += [{"store": "s3", "stars": 1, "at": "2026-10-20"} for _ in range(12)]  # too old
    assert scan(reg) == {("LOW_RATING", "s1")}
    assert flag("LOW_RATING", "s1")["evidence"]["mean"] == 2.0


def test_complaint_spike_and_food_safety() -> None:
    reg = r.clean(3)
    days = ["2026-11-17", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-23"]
    reg["complaints"] += [{"store": "s1", "category": "late", "at": d, "text": "慢"} for d in days]
    reg["complaints"] += [{"store": "s2", "category": "late", "at": d, "text": "慢"} for d in days[1:]]
    reg["complaints"].append({"store": "s2", "category": "late", "at": "2026-11-16", "text": "慢"})  # 8 days ago
    reg["complaints"].append({"store": "s3", "category": "food_safety", "at": "2026-11-01", "text": "腹泻"})
    assert scan(reg) == {("COMPLAINT_SPIKE", "s1"), ("FOOD_SAFETY_COMPLAINT", "s3")}
    assert scan(reg, as_of=datetime.date(2026, 12, 15)) == set()  # both windows have passed


def test_inspection_failed_only_when_the_latest_fails() -> None:
    reg = r.clean(2)
    bad = [{"code": "04L", "critical": True, "points": 28}]
    r.record(reg, "inspections", "i1")["violations"] = bad
    reg["inspections"].append(
        {"ref": "i2b", "store": "s2", "date": "2026-08-01", "type": "routine", "scheme": "nyc", "violations": bad}
    )
    found = scan(reg)
    assert found == {("INSPECTION_FAILED", "s1")}
    assert flag("INSPECTION_FAILED", "s1")["evidence"]["grade"] == "C"


def test_inspection_overdue_by_risk_interval() -> None:
    reg = r.clean(3)
    r.record(reg, "inspections", "i1")["date"] = "2025-12-01"  # medium risk: 6 months passed
    reg["inspections"] = [i for i in reg["inspections"] if i["ref"] != "i2"]  # never inspected, opened 2024
    r.record(reg, "stores", "s3")["opened_on"] = "2026-10-01"
    reg["inspections"] = [i for i in reg["inspections"] if i["ref"] != "i3"]  # new store: not yet due
    found = scan(reg)
    assert found == {("INSPECTION_OVERDUE", "s1"), ("INSPECTION_OVERDUE", "s2")}
    assert flag("INSPECTION_OVERDUE", "s1")["evidence"]["risk"] == "medium"


def test_flags_are_deduplicated_updated_and_resolved() -> None:
    reg = r.clean(2)
    r.record(reg, "staff", "p1")["health_certificate"] = None
    assert scan(reg) == {("HEALTH_CERT_MISSING", "s1")}
    first = Flag.objects.get(code="HEALTH_CERT_MISSING")
    assert scan(reg) == {("HEALTH_CERT_MISSING", "s1")}
    assert Flag.objects.filter(code="HEALTH_CERT_MISSING").count() == 1
    assert Flag.objects.get(code="HEALTH_CERT_MISSING").raised_at == first.raised_at

    r.record(reg, "staff", "p1")["health_certificate"] = {"number": "HC-new", "valid_to": "2027-11-01"}
    assert scan(reg) == set()
    first.refresh_from_db()
    assert first.status == Flag.Status.RESOLVED and first.resolved_at is not None


def test_the_shipped_example_registry_raises_exactly_the_expected_flags(shared_dir: Path) -> None:
    folder = shared_dir / "fixtures" / "compliance"
    if not (folder / "example-registry.json").exists():
        pytest.skip("no example registry in the shared data")
    data = json.loads((folder / "example-registry.json").read_text(encoding="utf-8"))
    expected = json.loads((folder / "example-expected-flags.json").read_text(encoding="utf-8"))
    found = scan(data, as_of=datetime.date.fromisoformat(data["as_of"]))
    must = {tuple(pair) for pair in expected["expected"]}
    may = {tuple(pair) for pair in expected["allowed"]}
    assert must - found == set(), "expected flags not raised"
    assert found - must - may == set(), "false alarms"
