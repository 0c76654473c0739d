from __future__ import annotations

import factory

from accounts.tests.factories import UserFactory
from dispatch.models import Courier


class CourierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Courier

    user = factory.SubFactory(UserFactory)
