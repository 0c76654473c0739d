from __future__ import annotations

from datetime import timedelta
from itertools import count

import factory
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from delivery.models import Order, Store
from dispatch.models import Courier, OrderDispatch

_numbers = count(1)


class CourierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Courier

    user = factory.SubFactory(UserFactory)

    @factory.post_generation  # type: ignore[untyped-decorator]
    def certified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """A verified health certificate valid for the next year, unless `certified=False`:
        without one the compliance gate keeps a courier offline and out of dispatch."""
        if create and extracted is not False:
            from compliance.models import HealthCertificate, Verification

            today = timezone.localdate()
            HealthCertificate.objects.create(
                courier=self,
                number=f"HC-T{self.pk:06d}",
                valid_from=today - timedelta(days=1),
                valid_to=today + timedelta(days=365),
                verification=Verification.VERIFIED,
            )


def idle_courier(*, lng: float = 121.451, lat: float = 31.231, **fields: object) -> Courier:
    """An online courier with a fresh flushed position: available for dispatch."""
    values: dict[str, object] = {
        "state": Courier.State.IDLE,
        "position": Point(lng, lat, srid=4326),
        "position_at": timezone.now(),
        **fields,
    }
    courier: Courier = CourierFactory(**values)
    return courier


def make_order(*, diner: User, store: Store, status: str = Order.Status.ACCEPTED, **fields: object) -> Order:
    now = timezone.now()
    defaults: dict[str, object] = {
        "number": f"D{next(_numbers):06d}{now.microsecond:06d}",
        "subtotal_cents": 2000,
        "total_cents": 2000,
        "delivery_address": "上海市静安区南京西路1788号",
        "delivery_point": Point(121.455, 31.228, srid=4326),
        "delivery_distance_m": 800,
        "eta_at": now + timedelta(minutes=35),
        "accepted_at": now,
    }
    if status == Order.Status.READY:
        defaults["ready_at"] = now
    return Order.objects.create(diner=diner, store=store, status=status, **{**defaults, **fields})


def waiting_dispatch(order: Order) -> OrderDispatch:
    dispatch: OrderDispatch = OrderDispatch.objects.create(order=order, store=order.store, dropoff_code="4821")
    return dispatch
