"""A generated 10,000-store merchant registry: `import_registry` (goal ≤ 60 s) and a full
`compliance_scan` of every flag rule over it (goal ≤ 30 s), on the machine's 2 cores.

The registry is made in code with a fixed seed: 10,000 entities and stores (each with both
licences, two staff with health certificates, one inspection, ten ratings), and about 5 % of
stores with a problem each rule should find (an expired or shared licence, a shared address, a
pin far from its address, a missing certificate, a failed inspection, a complaint spike, a
re-registration after a delisting...). The file is written to a temporary JSON file and read
back, as the command does.

The rows live in their own schema (`bench_registry`): copies (CREATE TABLE ... LIKE ... INCLUDING
ALL: same columns and indexes) of every table the import writes and the rules read, first on this
process's search_path, so the real services and rules run unchanged and the application's tables
are never touched. The schema is dropped at the end, even when the bench fails.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import emit, log, setup_django

SCHEMA = "bench_registry"
STORES = 10_000
GOAL_IMPORT_S = 60.0
GOAL_SCAN_S = 30.0
SEED = 20261123
AS_OF = datetime.date(2026, 11, 23)
TABLES = (
    "delivery_store",
    "delivery_review",
    "compliance_legalentity",
    "compliance_storeregistration",
    "compliance_licence",
    "compliance_staffmember",
    "compliance_healthcertificate",
    "compliance_sanction",
    "compliance_complaint",
    "compliance_externalrating",
    "compliance_multitenantsite",
    "compliance_flag",
    "inspections_inspection",
    "inspections_inspectionviolation",
)


def _execute(sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)


def _search_path_hook(sender: Any, connection: Any, **kwargs: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {SCHEMA}, public")


@contextmanager
def bench_schema() -> Iterator[None]:
    from django.db import connection
    from django.db.backends.signals import connection_created

    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    try:
        _execute(f"CREATE SCHEMA {SCHEMA}")
        for table in TABLES:
            _execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
        connection_created.connect(_search_path_hook)
        _execute(f"SET search_path TO {SCHEMA}, public")
        yield
    finally:
        connection_created.disconnect(_search_path_hook)
        _execute("SET search_path TO DEFAULT")
        _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.close()
        log(f"registry_scale: dropped schema {SCHEMA}")


def generate(stores: int = STORES, seed: int = SEED) -> tuple[dict[str, Any], int]:
    """The registry, and how many stores were given a problem."""
    from compliance.tests import registries as r

    rng = random.Random(seed)
    reg = r.clean(0)

    def record(section: str, ref: str) -> dict[str, Any]:
        found: dict[str, Any] = index[section][ref]
        return found

    for n in range(1, stores + 1):
        # A 100-column grid about 300 m apart, so only the planted problems share a place.
        lat, lng = 31.0 + (n // 100) * 0.0027, 121.2 + (n % 100) * 0.0032
        store = r.add_store(reg, n, lat=lat, lng=lng)
        reg["gazetteer"][-1].update(lat=lat, lng=lng)
        reg["staff"].append(
            {
                "ref": f"q{n}",
                "store": store["ref"],
                "name": "王帮厨",
                "id_number": r.resident_id(n + 20_000),
                "health_certificate": {"number": f"HCQ{n}", "valid_to": "2027-03-01"},
            }
        )
    index = {name: {x["ref"]: x for x in reg[name]} for name in ("stores", "licences", "staff", "inspections")}
    problems = 0
    for n in rng.sample(range(2, stores + 1), stores // 20):
        problems += 1
        kind = rng.randrange(8)
        s = record("stores", f"s{n}")
        if kind == 0:
            record("licences", f"lf{n}")["valid_to"] = "2026-11-01"
        elif kind == 1:
            record("licences", f"lf{n}")["number"] = r.food_licence(n - 1)
        elif kind == 2:
            s["address"] = record("stores", f"s{n - 1}")["address"]
        elif kind == 3:
            s["lat"] += 0.01
        elif kind == 4:
            record("staff", f"p{n}")["health_certificate"] = None
        elif kind == 5:
            record("inspections", f"i{n}")["violations"] = [{"code": "04L", "critical": True, "points": 30}]
        elif kind == 6:
            reg["complaints"] += [{"store": s["ref"], "category": "late", "at": "2026-11-20", "text": "慢"}] * 5
        else:
            prev = record("stores", f"s{n - 1}")
            prev.update(status="closed", closed_on="2026-06-01")
            reg["sanctions"].append(
                {"ref": f"x{n}", "store": prev["ref"], "kind": "delisting", "decided_on": "2026-06-01"}
            )
            s["entity"] = prev["entity"]
    return reg, problems


def run() -> list[dict[str, Any]]:
    setup_django()
    from django.db.models import Count

    from compliance.models import Flag
    from compliance.services.flags import flags_evaluate
    from compliance.services.registry import registry_import

    started = time.perf_counter()
    reg, problems = generate()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.json"
        path.write_text(json.dumps(reg, ensure_ascii=False), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        log(f"registry_scale: generated {STORES:,} stores ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
        records = {k: len(v) for k, v in reg.items() if isinstance(v, list)}
        with bench_schema():
            # CPU seconds of this process beside the wall clock: on a shared machine the wall
            # clock mostly measures the neighbours, CPU time much less (the database's own CPU
            # is not in it).
            started, cpu = time.perf_counter(), time.process_time()
            data = json.loads(path.read_text(encoding="utf-8"))
            registry_import(data=data)
            import_s = time.perf_counter() - started
            import_cpu_s = time.process_time() - cpu
            log(f"registry_scale: import took {import_s:.1f} s ({import_cpu_s:.1f} s CPU in this process)")
            _execute("ANALYZE")
            started, cpu = time.perf_counter(), time.process_time()
            result = flags_evaluate(as_of=AS_OF)
            scan_s = time.perf_counter() - started
            scan_cpu_s = time.process_time() - cpu
            log(f"registry_scale: scan took {scan_s:.1f} s, {result.raised} flags")
            # A second scan with nothing changed: the steady state of the nightly sweep.
            started = time.perf_counter()
            flags_evaluate(as_of=AS_OF)
            rescan_s = time.perf_counter() - started
            by_code = dict(Flag.objects.filter(status=Flag.Status.OPEN).values_list("code").annotate(n=Count("id")))
    detail = {"stores": STORES, "records": records, "file_mb": round(size_mb, 1), "planted_problems": problems}
    return [
        emit(
            "registry_scale",
            "import_seconds",
            import_s,
            "s",
            {**detail, "goal_s": GOAL_IMPORT_S, "cpu_s": round(import_cpu_s, 1), "load1": round(os.getloadavg()[0], 1)},
        ),
        emit(
            "registry_scale",
            "scan_seconds",
            scan_s,
            "s",
            {
                **detail,
                "goal_s": GOAL_SCAN_S,
                "cpu_s": round(scan_cpu_s, 1),
                "rescan_s": round(rescan_s, 1),
                "open_flags": by_code,
            },
        ),
    ]


if __name__ == "__main__":
    run()
