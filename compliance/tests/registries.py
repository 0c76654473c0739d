"""Small registries for the tests, built in code so each test states what it changes.

`clean()` is a registry whose every store is compliant as of AS_OF (a scan raises nothing);
tests add one problem and expect one flag. Numbers are invented, with valid check characters
computed by python-stdnum, except where a test breaks them on purpose.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from stdnum.cn import ric, uscc

AS_OF = datetime.date(2026, 11, 23)


def credit_code(n: int) -> str:
    body = f"91310106MA1F{n:05d}"
    return body + uscc.calc_check_digit(body)


def resident_id(n: int) -> str:
    body = f"3101061990{(n % 12) + 1:02d}{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body)


def food_licence(n: int) -> str:
    return f"JY2310106{n:06d}1"


def address(n: int) -> str:
    return f"上海市静安区测试路{n}号"


def place(n: int) -> tuple[float, float]:
    """Points on a grid about 300 m apart, so no two stores are near by accident."""
    return 31.20 + (n // 20) * 0.003, 121.40 + (n % 20) * 0.003


def add_store(reg: dict[str, Any], n: int, **overrides: Any) -> dict[str, Any]:
    """An entity, a live store at its own address, both licences, one certified cook, a clean
    recent inspection and ten good ratings."""
    lat, lng = place(n)
    e, s = f"e{n}", f"s{n}"
    reg["gazetteer"].append({"address": address(n), "lat": lat, "lng": lng})
    reg["entities"].append(
        {
            "ref": e,
            "name": f"上海测试{n}餐饮有限公司",
            "uscc": credit_code(n),
            "legal_rep": {"name": "测试", "id_number": resident_id(n)},
        }
    )
    store = {
        "ref": s,
        "entity": e,
        "name": f"测试小馆{n}",
        "address": address(n),
        "lat": lat,
        "lng": lng,
        "status": "live",
        "opened_on": "2024-01-01",
        "closed_on": None,
    }
    store.update(overrides)
    reg["stores"].append(store)
    reg["licences"] += [
        {"ref": f"lb{n}", "entity": e, "kind": "business", "number": credit_code(n), "valid_from": "2020-01-01"},
        {
            "ref": f"lf{n}",
            "store": s,
            "kind": "food_business",
            "number": food_licence(n),
            "valid_from": "2024-01-01",
            "valid_to": "2029-01-01",
        },
    ]
    reg["staff"].append(
        {
            "ref": f"p{n}",
            "store": s,
            "name": "李厨",
            "id_number": resident_id(n + 500),
            "health_certificate": {"number": f"HC{n}", "valid_to": "2027-06-01"},
        }
    )
    reg["inspections"].append(
        {
            "ref": f"i{n}",
            "store": s,
            "date": "2026-10-01",
            "type": "routine",
            "scheme": "nyc",
            "violations": [{"code": "10F", "critical": False, "points": 2}],
        }
    )
    reg["ratings"] += [{"store": s, "stars": 5, "at": "2026-11-10"} for _ in range(10)]
    return store


def clean(stores: int = 3) -> dict[str, Any]:
    reg: dict[str, Any] = {
        "as_of": AS_OF.isoformat(),
        "gazetteer": [],
        "multi_tenant_sites": [],
        "entities": [],
        "stores": [],
        "licences": [],
        "staff": [],
        "inspections": [],
        "sanctions": [],
        "ratings": [],
        "complaints": [],
    }
    for n in range(1, stores + 1):
        add_store(reg, n)
    return reg


def record(reg: dict[str, Any], section: str, ref: str) -> dict[str, Any]:
    for r in reg[section]:
        if r.get("ref") == ref:
            return r  # type: ignore[no-any-return]
    raise KeyError(ref)


def copy_of(reg: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(reg)
