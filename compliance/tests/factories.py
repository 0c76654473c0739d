"""Compliance factories: an entity with a registration, verified licences, certificates."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from compliance.models import HealthCertificate, LegalEntity, Licence, StaffMember, StoreRegistration, Verification
from compliance.tests import registries as r
from delivery.models import Store


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity

    name = factory.Sequence(lambda n: f"上海测试{n}餐饮有限公司")
    uscc = factory.Sequence(lambda n: r.credit_code(n + 1000))


def licensed(store: Store, *, verified: bool = True, valid_to: datetime.date | None = None) -> StoreRegistration:
    """Give a store an entity and both licences (verified unless said otherwise)."""
    entity = LegalEntityFactory()
    registration = StoreRegistration.objects.create(store=store, entity=entity)
    state = Verification.VERIFIED if verified else Verification.PENDING
    moment = timezone.now() if verified else None
    Licence.objects.create(
        kind=Licence.Kind.BUSINESS, entity=entity, number=entity.uscc, verification=state, verified_at=moment
    )
    Licence.objects.create(
        kind=Licence.Kind.FOOD_BUSINESS,
        store=store,
        number=r.food_licence(store.pk),
        valid_from=datetime.date(2024, 1, 1),
        valid_to=valid_to or timezone.localdate() + datetime.timedelta(days=700),
        verification=state,
        verified_at=moment,
    )
    return registration


def staff_certificate(store: Store, *, valid_to: datetime.date) -> HealthCertificate:
    member = StaffMember.objects.create(store=store, name="李厨")
    return HealthCertificate.objects.create(staff=member, number=f"HC{member.pk}", valid_to=valid_to)
