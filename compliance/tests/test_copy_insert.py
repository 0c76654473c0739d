"""COPY inserts (the registry import's writer) read back exactly what bulk_create would write."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from compliance.models import ExternalRating, LegalEntity, Sanction
from compliance.services.copy_insert import objects_copy, rows_copy
from delivery.models import Store

pytestmark = pytest.mark.django_db
AWKWARD = 'tab\there, newline\nthere, back\\slash, "quotes", 中文, \\N'


def test_awkward_text_arrays_points_and_nulls_round_trip() -> None:
    store = Store(name_zh=AWKWARD, address="上海市\r南京西路1号", location=Point(121.45, 31.23, srid=4326))
    entity = LegalEntity(name=AWKWARD, uscc="91310106MA1FL2XQ0X", external_ref="e1")
    objects_copy([store])
    objects_copy([entity])
    sanction = Sanction(
        kind="warning",
        store=store,
        entity=entity,
        decided_on=datetime.date(2026, 11, 23),
        bound_names=[AWKWARD, "plain", ""],
        bound_licence_numbers=[],
    )
    objects_copy([sanction])
    assert store.pk and entity.pk and sanction.pk and not store._state.adding

    again = Store.objects.get(pk=store.pk)
    assert again.name_zh == AWKWARD and again.address == "上海市\r南京西路1号"
    assert (round(again.location.x, 6), round(again.location.y, 6)) == (121.45, 31.23)
    assert again.zone is None and again.created_at is not None and again.status == Store.Status.DRAFT
    assert LegalEntity.objects.get(pk=entity.pk).name == AWKWARD
    stored = Sanction.objects.get(pk=sanction.pk)
    assert stored.bound_names == [AWKWARD, "plain", ""] and stored.bound_licence_numbers == []
    assert stored.effective_until is None and stored.store_id == store.pk

    # Plain rows; and the sequence moves on, so an ordinary create gets a fresh id.
    at = timezone.now()
    assert rows_copy(ExternalRating._meta.db_table, ("store_id", "stars", "rated_at"), [(store.pk, 4, at)]) == 1
    assert ExternalRating.objects.get(store=store).rated_at == at
    later = Store.objects.create(name_zh="b", address="c", location=Point(121.4, 31.2, srid=4326))
    assert later.pk > store.pk


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        rows_copy(
            ExternalRating._meta.db_table, ("store_id", "stars", "rated_at"), [(1, 4, datetime.datetime(2026, 1, 1))]
        )
