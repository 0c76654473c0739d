"""Two dispatcher processes at once share the zone through its lease: only one plans it, and no
order is ever offered twice; when the holder stops, the other takes over."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest
from django.contrib.gis.geos import Point

from accounts.models import User
from delivery.models import Order, Store
from dispatch.models import DispatchLease, Offer
from dispatch.tests.factories import idle_courier, make_order
from tests.conftest import ROOT, _stop, _test_process_env

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _start() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatcher", "--tick", "0.3"],
        cwd=ROOT,
        env={**_test_process_env(), "DISPATCHER_LEASE_SECONDS": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_dispatcher_processes_never_offer_an_order_twice(diner: User, store: Store) -> None:
    for i in range(6):
        make_order(
            diner=diner, store=store, status=Order.Status.READY, delivery_point=Point(121.455 + i / 2000, 31.228)
        )
    for i in range(4):
        idle_courier(lng=121.451 + i / 5000, lat=31.231)
    first, second = _start(), _start()
    try:
        deadline = time.monotonic() + 30
        while not Offer.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # a few more ticks of both
        lease = DispatchLease.objects.get()
        offers = list(Offer.objects.all())
        assert offers
        assert max(Counter(offer.courier_id for offer in offers).values()) == 1
        per_order = Counter(o.pk for offer in offers for o in offer.orders.all())
        assert max(per_order.values()) == 1
        assert {o.fencing_token for o in offers} == {lease.token}

        # The holder stops (and gives its lease back): the other one takes the zone over.
        holder_pid = int(lease.holder.split(":")[1])
        stopping = first if first.pid == holder_pid else second
        _stop(stopping)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            taken = DispatchLease.objects.get()
            if taken.holder != lease.holder and taken.token == lease.token + 1:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the other dispatcher never took the zone over")
    finally:
        _stop(first)
        _stop(second)
