from __future__ import annotations

from functools import cache

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import MultiPolygon, Polygon

from accounts.models import DinerProfile, RegulatorProfile, User

PASSWORD = "correct-horse-battery-staple"


@cache
def _password_hash() -> str:
    # Hash once per run: argon2 is deliberately slow, and every persona needs a password.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name")
    password = factory.LazyFunction(_password_hash)


class DinerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DinerProfile

    user = factory.SubFactory(UserFactory)


def square(lng: float, lat: float, half: float) -> MultiPolygon:
    """A square district centred on (lng, lat) with half-width `half` degrees."""
    ring = (
        (lng - half, lat - half),
        (lng + half, lat - half),
        (lng + half, lat + half),
        (lng - half, lat + half),
        (lng - half, lat - half),
    )
    return MultiPolygon(Polygon(ring, srid=4326), srid=4326)


class RegulatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegulatorProfile

    user = factory.SubFactory(UserFactory)
    agency = "静安区市场监督管理局"
    jurisdiction_name = "Jing'an"
    district = factory.LazyFunction(lambda: square(121.45, 31.23, 0.02))
