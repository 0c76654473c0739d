from __future__ import annotations

import factory
from django.contrib.gis.geos import Point

from accounts.tests.factories import UserFactory
from delivery.models import Store, StoreMembership


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    name_zh = factory.Sequence(lambda n: f"测试小馆{n}")
    name_en = factory.Sequence(lambda n: f"Test Kitchen {n}")
    address = "上海市南京西路1号"
    location = factory.LazyFunction(lambda: Point(121.45, 31.23, srid=4326))
    status = Store.Status.LIVE


class StoreMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreMembership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
    role = StoreMembership.Role.OWNER
