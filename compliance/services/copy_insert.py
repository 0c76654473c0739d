"""Bulk inserts through PostgreSQL's COPY, for the registry import.

`bulk_create` spends most of a 10 k-store import compiling its INSERTs in Python (a parameter,
a placeholder and a field conversion per value; cProfile in bench/registry_scale.py). COPY
streams tab-separated text instead: the ids are reserved from the table's own sequence in one
query (so the rows can be linked before they exist), each value is written as PostgreSQL's text
input form, and the rows go in one statement per table.

`objects_copy` takes unsaved model instances (their defaults already set by the model) and
leaves them saved, with their pk; `rows_copy` takes plain tuples for the tables where building
an instance per row is the cost (ratings).
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields.files import FieldFile
from django.utils import timezone

# COPY's text format: backslash escapes for the characters that delimit it
# (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format").
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _array_literal(values: Iterable[Any]) -> str:
    """A one-dimensional PostgreSQL array literal, every element quoted."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        else:
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            items.append(f'"{text}"')
    return "{" + ",".join(items) + "}"


def _text(value: Any, field: models.Field[Any, Any] | None = None) -> str:
    """One value in COPY's text form (\\N for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            raise ValueError("naive datetime in a COPY row")
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, GEOSGeometry):
        return value.hexewkb.decode()
    if isinstance(value, FieldFile):
        return (value.name or "").translate(_COPY_ESCAPES)
    if isinstance(field, ArrayField) or (field is None and isinstance(value, list | tuple)):
        return _array_literal(value).translate(_COPY_ESCAPES)
    if isinstance(field, models.JSONField):
        return json.dumps(value, ensure_ascii=False).translate(_COPY_ESCAPES)
    raise TypeError(f"no COPY form for {type(value).__name__}")


def ids_reserve(table: str, count: int) -> list[int]:
    """`count` ids from the table's own id sequence (identity or serial), in one query."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]


def rows_copy(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY plain rows into `table`; returns how many."""
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join(_text(value) for value in row))
        buffer.write("\n")
        count += 1
    if count:
        buffer.seek(0)
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN", buffer)
    return count


def objects_copy[M: models.Model](objects: Sequence[M]) -> Sequence[M]:
    """Insert unsaved instances of one model with COPY, as bulk_create would (auto_now and
    auto_now_add set to now, ids from the table's sequence), and mark them saved."""
    if not objects:
        return objects
    model = type(objects[0])
    meta = model._meta
    ids = ids_reserve(meta.db_table, len(objects))
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not isinstance(getattr(objects[0], f.attname), DatabaseDefault)]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    buffer = io.StringIO()
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        for f in stamped:
            setattr(obj, f.attname, now)
        buffer.write("\t".join(_text(getattr(obj, f.attname), f) for f in fields))
        buffer.write("\n")
        obj._state.adding = False
        obj._state.db = connection.alias
    buffer.seek(0)
    quoted = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN", buffer)
    return objects
