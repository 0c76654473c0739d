"""`import_registry` and `compliance_scan`: whole files or nothing, updates by ref, the format's JSON."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from compliance.inspections.models import Inspection
from compliance.models import ExternalRating, HealthCertificate, LegalEntity, Licence, NumberCheck, StoreRegistration
from compliance.services.registry import RegistryInvalid, registry_import
from compliance.tests import registries as r
from delivery.models import Store

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


def test_import_creates_everything_and_keeps_refs() -> None:
    report = registry_import(data=r.clean(3))
    assert report.created["stores"] == 3 and report.created["licences"] == 6
    registration = StoreRegistration.objects.select_related("store", "entity").get(external_ref="s2")
    assert registration.entity is not None and registration.entity.external_ref == "e2"
    assert registration.store.status == Store.Status.LIVE
    assert registration.geocoded_location is not None  # from the file's gazetteer
    assert Inspection.objects.get(external_ref="i2").grade == "A"
    assert HealthCertificate.objects.filter(staff__external_ref="p2").count() == 1


def test_identity_numbers_are_never_stored_in_clear() -> None:
    registry_import(data=r.clean(1))
    entity = LegalEntity.objects.get(external_ref="e1")
    clear = r.resident_id(1)
    assert clear not in json.dumps(list(LegalEntity.objects.values()), default=str)
    assert entity.legal_rep_id_hash and len(entity.legal_rep_id_hash) == 64
    assert entity.legal_rep_id_masked == f"{clear[:3]}{'*' * 11}{clear[-4:]}"


def test_a_second_import_updates_by_ref() -> None:
    reg = r.clean(2)
    registry_import(data=reg)
    r.record(reg, "stores", "s1")["name"] = "改名小馆"
    r.record(reg, "licences", "lf1")["valid_to"] = "2030-01-01"
    report = registry_import(data=reg)
    assert report.created["stores"] == 0 and report.updated["stores"] == 2
    assert Store.objects.count() == 2 and Licence.objects.count() == 4
    assert Store.objects.get(registration__external_ref="s1").name_zh == "改名小馆"
    assert str(Licence.objects.get(external_ref="lf1").valid_to) == "2030-01-01"
    assert ExternalRating.objects.count() == 20  # replaced, not doubled
    assert Inspection.objects.count() == 2


def test_a_bad_ref_imports_nothing_and_names_the_record() -> None:
    data = json.loads((DATA / "bad-refs.json").read_text(encoding="utf-8"))
    with pytest.raises(RegistryInvalid) as caught:
        registry_import(data=data)
    errors = "\n".join(caught.value.errors)
    assert "l-orphan" in errors and "unknown store 's404'" in errors
    assert "p-bad" in errors and "not an ISO date" in errors
    assert Store.objects.count() == 0 and LegalEntity.objects.count() == 0


def test_duplicate_refs_and_unknown_values_are_reported() -> None:
    reg = r.clean(2)
    r.record(reg, "stores", "s2")["ref"] = "s1"
    reg["sanctions"].append({"ref": "x1", "store": "s1", "kind": "banished", "decided_on": "2026-01-01"})
    with pytest.raises(RegistryInvalid) as caught:
        registry_import(data=reg)
    errors = "\n".join(caught.value.errors)
    assert "ref s1): ref already used" in errors
    assert "x1" in errors and "banished" in errors


def test_a_failed_check_character_is_imported_for_review_not_dropped() -> None:
    reg = r.clean(1)
    broken = r.credit_code(1)[:-1] + ("0" if r.credit_code(1)[-1] != "0" else "1")
    r.record(reg, "entities", "e1")["uscc"] = broken
    report = registry_import(data=reg)
    assert LegalEntity.objects.get(external_ref="e1").uscc_check == NumberCheck.CHECK_FAILED
    assert any("e1" in w and "check character" in w for w in report.warnings)


def test_import_registry_command_and_scan_json(tmp_path: Path) -> None:
    out = StringIO()
    call_command("import_registry", str(DATA / "small-registry.json"), stdout=out, stderr=StringIO())
    assert "created" in out.getvalue()
    out = StringIO()
    call_command("compliance_scan", "--as-of", "2026-11-23", "--json", stdout=out)
    flags = json.loads(out.getvalue())
    assert {"code", "store", "entity", "severity", "evidence"} <= set(flags[0])
    found = {(f["code"], f["store"] or f["entity"]) for f in flags}
    expected = json.loads((DATA / "small-expected-flags.json").read_text())
    assert found == {tuple(pair) for pair in expected["expected"]}  # the food court s5/s6 is not flagged


def test_import_registry_command_reports_bad_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not a UTF-8 JSON file"):
        call_command("import_registry", str(broken))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_registry", str(DATA / "bad-refs.json"), stderr=err)
    assert "l-orphan" in err.getvalue()
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("compliance_scan", "--as-of", "yesterday")
