"""Open data in the LIVES format (Yelp's Local Inspector Value-Entry Specification, 1.0):
import a municipality's feed and export ours.

A feed is a directory of CSV files with a header row and dates as YYYYMMDD:
`businesses.csv` (business_id, name, address, city, state, postal_code, latitude, longitude,
phone_number), `inspections.csv` (business_id, score, date, type), `violations.csv`
(business_id, date, code, description), optional `legend.csv` (minimum_score, maximum_score,
description) and `feed_info.csv` (feed_date, feed_version, municipality_name, municipality_url,
contact_email). San Francisco's feed (../shared/fixtures/inspections/sf-lives) extends it with
`risk_category` on violations and uses its own inspection types, which we map.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from compliance.inspections.models import Inspection
from compliance.inspections.schemes import Result, ViolationInput
from compliance.inspections.services import inspection_record
from compliance.models import StoreRegistration
from delivery.models import Store

LIVES_SCHEME = "lives"  # a grade as the feed published it (its legend), not computed here
LIVES_FILES = ("businesses.csv", "inspections.csv", "violations.csv", "feed_info.csv")


class LivesError(Exception):
    """A feed that cannot be imported: which file, which line, what is wrong."""


def _kind(lives_type: str) -> str:
    """LIVES 1.0 types are initial|routine|followup|complaint; SF writes its own words."""
    t = lives_type.strip().lower()
    if "follow" in t or "reinspection" in t:
        return Inspection.Kind.FOLLOW_UP
    if "complaint" in t or "foodborne" in t or "illness" in t:
        return Inspection.Kind.COMPLAINT
    return Inspection.Kind.ROUTINE


LIVES_TYPE: dict[str, str] = {
    Inspection.Kind.ROUTINE: "routine",
    Inspection.Kind.FOLLOW_UP: "followup",
    Inspection.Kind.COMPLAINT: "complaint",
}


def _date(value: str, where: str) -> datetime.date:
    try:
        return datetime.datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError:
        raise LivesError(f"{where}: date {value!r} is not YYYYMMDD") from None


def _rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise LivesError(f"{path.name}: missing")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise LivesError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
        return list(reader)


@dataclass(frozen=True)
class Band:
    minimum: int
    maximum: int
    description: str


@dataclass
class LivesImportReport:
    municipality: str
    stores_matched: int = 0
    stores_created: int = 0
    businesses_skipped: list[str] = field(default_factory=list)  # no coordinates: cannot be placed
    inspections: int = 0
    violations: int = 0
    violations_unmatched: int = 0  # a violation on a date with no inspection of that business


def _legend(directory: Path) -> list[Band]:
    path = directory / "legend.csv"
    if not path.is_file():
        return []
    rows = _rows(path, {"minimum_score", "maximum_score", "description"})
    return sorted(
        (Band(int(r["minimum_score"]), int(r["maximum_score"]), r["description"].strip()) for r in rows),
        key=lambda b: b.minimum,
    )


def _published(score: int | None, legend: list[Band]) -> Result:
    if score is None:
        return Result(score=None, grade="", failed=False)
    for i, band in enumerate(legend):
        if band.minimum <= score <= band.maximum:
            # The legend's lowest band (SF: "Poor", <= 70) is the failing one.
            return Result(score=score, grade=band.description, failed=i == 0)
    return Result(score=score, grade="", failed=False)


def store_match_or_create(
    *, external_ref: str, name: str, address: str, point: Point | None
) -> tuple[Store | None, bool]:
    """The marketplace store an outside record is about: by the registration's external ref,
    else by the same name within 50 m; else a new store (a draft: outside discovery until its
    merchant is admitted) with its registration. None when there is nothing to place it by."""
    registration = StoreRegistration.objects.select_related("store").filter(external_ref=external_ref).first()
    if registration is not None:
        return registration.store, False
    if point is None:
        return None, False
    store = (
        Store.objects.filter(Q(name_en__iexact=name) | Q(name_zh__iexact=name), location__dwithin=(point, D(m=50)))
        .filter(registration__isnull=True)
        .order_by("pk")
        .first()
    )
    created = store is None
    if store is None:
        store = Store.objects.create(
            name_zh=name[:128], name_en=name[:128], address=address[:255], location=point, status=Store.Status.DRAFT
        )
    StoreRegistration.objects.create(store=store, external_ref=external_ref)
    return store, created


@transaction.atomic
def lives_import(directory: Path, *, municipality: str | None = None) -> LivesImportReport:
    """Import a LIVES feed: stores matched or created, their inspections (final: published
    grades are not contestable here) and violations. All or nothing; a rerun updates in place
    (every row has an external ref derived from the feed's own keys)."""
    feed = {}
    if (directory / "feed_info.csv").is_file():
        feed = next(iter(_rows(directory / "feed_info.csv", {"municipality_name"})), {})
    muni = slugify(municipality or feed.get("municipality_name") or directory.name)[:12] or "lives"
    report = LivesImportReport(municipality=muni)
    legend = _legend(directory)
    businesses = _rows(directory / "businesses.csv", {"business_id", "name", "address", "latitude", "longitude"})
    inspections = _rows(directory / "inspections.csv", {"business_id", "score", "date", "type"})
    violations = _rows(directory / "violations.csv", {"business_id", "date", "code", "description"})

    stores: dict[str, Store] = {}
    for line, row in enumerate(businesses, start=2):
        bid = row["business_id"].strip()
        point = None
        if row["latitude"].strip() and row["longitude"].strip():
            try:
                point = Point(float(row["longitude"]), float(row["latitude"]), srid=4326)
            except ValueError:
                raise LivesError(f"businesses.csv line {line}: bad latitude/longitude") from None
        store, created = store_match_or_create(
            external_ref=f"lives:{muni}:{bid}", name=row["name"].strip(), address=row["address"].strip(), point=point
        )
        if store is None:
            report.businesses_skipped.append(bid)
            continue
        stores[bid] = store
        if created:
            report.stores_created += 1
        else:
            report.stores_matched += 1

    by_visit: dict[tuple[str, str], list[ViolationInput]] = defaultdict(list)
    for row in violations:
        by_visit[(row["business_id"].strip(), row["date"].strip())].append(
            ViolationInput(
                code=row["code"].strip()[:16],
                description=row["description"].strip(),
                critical=row.get("risk_category", "").strip().lower() == "high risk",
            )
        )
    # Several inspections of one business on one date (a routine visit and a complaint): the
    # violations go to the scored one, else the first.
    visits: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for line, row in enumerate(inspections, start=2):
        visits[(row["business_id"].strip(), row["date"].strip())].append((line, row))
    for (bid, day), rows in visits.items():
        store = stores.get(bid)
        if store is None:
            continue
        holder = next((i for i, (_, r) in enumerate(rows) if r["score"].strip()), 0)
        for i, (line, row) in enumerate(rows):
            try:
                score = int(row["score"]) if row["score"].strip() else None
            except ValueError:
                raise LivesError(f"inspections.csv line {line}: score {row['score']!r} is not a number") from None
            found = by_visit.get((bid, day), []) if i == holder else []
            inspection_record(
                store=store,
                inspected_on=_date(day, f"inspections.csv line {line}"),
                scheme=LIVES_SCHEME,
                kind=_kind(row["type"]),
                violations=found,
                published=_published(score, legend),
                external_ref=f"lives:{muni}:{bid}:{day}:{i}",
                contestable=False,
            )
            report.inspections += 1
            report.violations += len(found)
    report.violations_unmatched = sum(len(v) for key, v in by_visit.items() if key not in visits and key[0] in stores)
    return report


# --- Export -----------------------------------------------------------------------------------


def _exported() -> Iterator[Inspection]:
    """Final grades only: a pending grade may still change after the merchant contests it."""
    return (
        Inspection.objects.filter(grade_state=Inspection.GradeState.FINAL)
        .select_related("store")
        .prefetch_related("violations")
        .order_by("pk")
        .iterator(chunk_size=2000)
    )


def _ymd(day: datetime.date) -> str:
    return day.strftime("%Y%m%d")


def _csv(header: list[str], rows: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def lives_export(
    *, municipality_name: str = "Mingchu", municipality_url: str = "", contact_email: str = ""
) -> dict[str, str]:
    """Our final inspections as a LIVES 1.0 feed: file name -> CSV text. Businesses are the
    stores that have an exported inspection; business_id is our store id."""
    inspections = list(_exported())
    stores = {i.store_id: i.store for i in inspections}
    businesses = _csv(
        ["business_id", "name", "address", "city", "state", "postal_code", "latitude", "longitude", "phone_number"],
        (
            [s.pk, s.display_name, s.address, "", "", "", f"{s.location.y:.6f}", f"{s.location.x:.6f}", ""]
            for s in sorted(stores.values(), key=lambda s: s.pk)
        ),
    )
    inspections_csv = _csv(
        ["business_id", "score", "date", "type"],
        (
            [i.store_id, "" if i.score is None else i.score, _ymd(i.inspected_on), LIVES_TYPE.get(i.kind, "routine")]
            for i in inspections
        ),
    )
    violations_csv = _csv(
        ["business_id", "date", "code", "description"],
        ([i.store_id, _ymd(i.inspected_on), v.code, v.description] for i in inspections for v in i.violations.all()),
    )
    feed_info = _csv(
        ["feed_date", "feed_version", "municipality_name", "municipality_url", "contact_email"],
        [[_ymd(timezone.localdate()), "1.0", municipality_name, municipality_url, contact_email]],
    )
    return {
        "businesses.csv": businesses,
        "inspections.csv": inspections_csv,
        "violations.csv": violations_csv,
        "feed_info.csv": feed_info,
    }


def _record(i: Inspection) -> dict[str, Any]:
    s = i.store
    return {
        "inspection_id": i.pk,
        "store_id": s.pk,
        "store_name": s.display_name,
        "address": s.address,
        "latitude": round(s.location.y, 6),
        "longitude": round(s.location.x, 6),
        "date": i.inspected_on.isoformat(),
        "type": i.kind,
        "scheme": i.scheme,
        "score": i.score,
        "grade": i.grade,
        "failed": i.failed,
        "merchant_reply": i.merchant_reply,
        "violations": [
            {"code": v.code, "description": v.description, "points": v.points, "critical": v.critical}
            for v in i.violations.all()
        ],
    }


def inspections_json() -> str:
    return json.dumps({"inspections": [_record(i) for i in _exported()]}, ensure_ascii=False)


CSV_HEADER = [
    "inspection_id", "store_id", "store_name", "address", "latitude", "longitude", "date", "type", "scheme",
    "score", "grade", "failed", "merchant_reply", "violation_codes", "critical_violations",
]  # fmt: skip


def inspections_csv() -> str:
    """One row per inspection; its violation codes joined with ';'."""

    def rows() -> Iterator[list[Any]]:
        for i in _exported():
            r = _record(i)
            codes = ";".join(v["code"] for v in r["violations"])
            critical = sum(1 for v in r["violations"] if v["critical"])
            yield [*(r[k] for k in CSV_HEADER[:13]), codes, critical]

    return _csv(CSV_HEADER, rows())


_SAFE = re.compile(r"^[a-z_]+\.csv$")


def lives_write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if not _SAFE.match(name):
            raise ValueError(name)
        (directory / name).write_text(text, encoding="utf-8")
