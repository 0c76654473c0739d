"""LIVES open data: import of the SF sample (and a tiny hand-made feed), export, round trip."""

from __future__ import annotations

import csv
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db.models import Count

from compliance.inspections.lives import LivesError, lives_export, lives_import, lives_write
from compliance.inspections.models import Inspection, InspectionViolation
from compliance.models import StoreRegistration
from delivery.models import Store
from delivery.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

SF = Path("fixtures") / "inspections" / "sf-lives"


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


TINY = {
    "businesses.csv": "business_id,name,address,city,state,postal_code,latitude,longitude,phone_number\n"
    "1,Noodle Bar,1 Main St,Town,,,31.231,121.451,\n"
    "2,No Pin Cafe,2 Main St,Town,,,,,\n",
    "inspections.csv": "business_id,score,date,type\n"
    "1,84,20240105,Routine - Unscheduled\n"
    "1,,20240105,Complaint\n"
    "1,96,20240301,Reinspection/Followup\n"
    "2,70,20240105,routine\n",
    "violations.csv": "business_id,date,code,description,risk_category\n"
    "1,20240105,103119,Inadequate and inaccessible handwashing facilities,Moderate Risk\n"
    "1,20240105,103120,Moderate risk food holding temperature,High Risk\n"
    "1,20231201,103121,On a date without an inspection,Low Risk\n",
    "legend.csv": "minimum_score,maximum_score,description\n91,100,Good\n86,90,Adequate\n"
    "71,85,Needs Improvement\n0,70,Poor\n",
    "feed_info.csv": "feed_date,feed_version,municipality_name,municipality_url,contact_email\n20240401,1.0,Town,,\n",
}


def test_tiny_feed_imports_with_grades_from_its_legend(tmp_path: Path) -> None:
    existing = StoreFactory(name_en="Noodle Bar", location=Point(121.4511, 31.2311, srid=4326))
    report = lives_import(_write(tmp_path / "feed", TINY))
    assert (report.stores_matched, report.stores_created, report.businesses_skipped) == (1, 0, ["2"])
    assert (report.inspections, report.violations, report.violations_unmatched) == (3, 2, 1)
    rows = list(Inspection.objects.filter(store=existing).order_by("inspected_on", "external_ref"))
    assert [(i.score, i.grade, i.kind, i.grade_state) for i in rows] == [
        (84, "Needs Improvement", "routine", "final"),
        (None, "", "complaint", "final"),
        (96, "Good", "follow_up", "final"),
    ]
    assert rows[0].violations.count() == 2  # on the scored visit of that day
    assert rows[0].violations.filter(critical=True).get().code == "103120"
    assert StoreRegistration.objects.get(store=existing).external_ref == "lives:town:1"
    # A rerun changes nothing.
    lives_import(tmp_path / "feed")
    assert Inspection.objects.count() == 3 and InspectionViolation.objects.count() == 2


def test_a_bad_feed_names_the_line_and_imports_nothing(tmp_path: Path) -> None:
    bad = {**TINY, "inspections.csv": TINY["inspections.csv"] + "1,90,2024-03-02,routine\n"}
    with pytest.raises(LivesError, match=r"inspections\.csv line 6"):
        lives_import(_write(tmp_path / "bad", bad))
    assert not Inspection.objects.exists() and not Store.objects.exists()
    with pytest.raises(CommandError, match="missing columns"):
        call_command("import_lives", str(_write(tmp_path / "cols", {**TINY, "violations.csv": "business_id\n"})))


def test_sf_sample_imports(shared_dir: Path) -> None:
    directory = shared_dir / SF
    out = StringIO()
    call_command("import_lives", str(directory), stdout=out)
    with (directory / "inspections.csv").open(encoding="utf-8") as f:
        source = list(csv.DictReader(f))
    with (directory / "businesses.csv").open(encoding="utf-8") as f:
        placed = {r["business_id"] for r in csv.DictReader(f) if r["latitude"]}
    expected = [r for r in source if r["business_id"] in placed]
    assert Inspection.objects.count() == len(expected)
    assert Store.objects.count() == len(placed)
    assert not Store.objects.exclude(status=Store.Status.DRAFT).exists()  # never in discovery
    scores = Counter(i.score for i in Inspection.objects.all())
    assert scores == Counter(int(r["score"]) if r["score"] else None for r in expected)
    poor = Inspection.objects.filter(score__lte=70)
    assert poor.exists() and all(i.grade == "Poor" and i.failed for i in poor)
    assert not Inspection.objects.filter(score__gte=91).exclude(grade="Good").exists()
    assert InspectionViolation.objects.filter(critical=True).exists()
    assert "inspections" in out.getvalue()


def _summary() -> Counter[tuple[str, object, int | None, int]]:
    rows = Inspection.objects.select_related("store").annotate(n=Count("violations"))
    return Counter((i.store.display_name, i.inspected_on, i.score, i.n) for i in rows)


def test_export_round_trips_through_import(shared_dir: Path, tmp_path: Path) -> None:
    lives_import(shared_dir / SF)
    before = Counter(
        (i.store.display_name, i.inspected_on, i.score, i.violations.count()) for i in Inspection.objects.all()
    )
    lives_write(tmp_path / "ours", lives_export(municipality_name="Mingchu"))
    # Into an empty database: drop what we have, import our own feed, compare.
    Inspection.objects.all().delete()
    StoreRegistration.objects.all().delete()
    Store.objects.all().delete()
    report = lives_import(tmp_path / "ours")
    assert report.businesses_skipped == []
    after = Counter(
        (i.store.display_name, i.inspected_on, i.score, i.violations.count()) for i in Inspection.objects.all()
    )
    assert after == before


def test_export_command_writes_every_file(tmp_path: Path) -> None:
    call_command("export_inspections", str(tmp_path), stdout=StringIO())
    assert sorted(p.name for p in (tmp_path / "lives").iterdir()) == [
        "businesses.csv", "feed_info.csv", "inspections.csv", "violations.csv",
    ]  # fmt: skip
    assert (tmp_path / "inspections.json").read_text().startswith('{"inspections"')
    assert (tmp_path / "inspections.csv").read_text().startswith("inspection_id,")
