"""A courier and diner simulator that drives the running system from outside, as real clients.

Couriers are WebSocket clients of `/ws/courier/` and HTTP clients of the courier API: they go
online, stream a position every few seconds while riding in straight lines at their vehicle's
speed (times `speedup`), accept most offers (decline the rest with a reason), ride to the store,
wait for the food, ride to the door and deliver with the code the diner gives them. Diners place
orders through `POST /api/v1/orders/` and pay through the sandbox provider's signed webhook.
The simulator also plays the restaurants (accepts and marks orders ready after their prep time)
through the marketplace's transition service, until the board's own services do it.

Nothing here is imported by the web app; `manage.py simulate` runs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client
from websockets.asyncio.client import connect

logger = logging.getLogger("dispatch.simulator")


@dataclass
class SimStats:
    pings: int = 0
    acks: int = 0
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    delivered: int = 0
    orders_placed: int = 0
    errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@dataclass
class Account:
    user_id: int
    token: str
    cookie: str


def _certify(courier: Any) -> None:
    """Simulated couriers hold a verified health certificate, as real ones must: the compliance
    gate in `couriers_available` and going online still applies to them."""
    from datetime import timedelta

    from django.utils import timezone

    from compliance.models import HealthCertificate, Verification

    today = timezone.localdate()
    if not HealthCertificate.objects.filter(courier=courier, valid_to__gt=today).exists():
        HealthCertificate.objects.create(
            courier=courier,
            number=f"SIM-{courier.pk}",
            valid_from=today,
            valid_to=today + timedelta(days=365),
            verification=Verification.VERIFIED,
            verified_at=timezone.now(),
        )


def _account(username: str, *, courier: bool) -> Account:
    from rest_framework.authtoken.models import Token

    from accounts.models import DinerProfile, User
    from dispatch.models import Courier

    user, _ = User.objects.get_or_create(username=username, defaults={"display_name": username})
    if courier:
        sim_courier, _ = Courier.objects.get_or_create(user=user)
        _certify(sim_courier)
    else:
        DinerProfile.objects.get_or_create(user=user)
    token, _ = Token.objects.get_or_create(user=user)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return Account(user_id=user.pk, token=token.key, cookie=f"sessionid={client.cookies['sessionid'].value}")


def accounts_prepare(*, couriers: int, diners: int, prefix: str) -> tuple[list[Account], list[Account]]:
    """Simulated accounts (created once, reused): `<prefix>-courier-NNN`, `<prefix>-diner-NNN`."""
    close_old_connections()
    try:
        c = [_account(f"{prefix}-courier-{i:04d}", courier=True) for i in range(couriers)]
        d = [_account(f"{prefix}-diner-{i:04d}", courier=False) for i in range(diners)]
    finally:
        connection.close()  # this worker thread's own connection
    return c, d


@dataclass(frozen=True)
class StoreMenu:
    store_id: int
    lng: float
    lat: float
    item_id: int
    option_ids: tuple[int, ...]


def stores_with_menus() -> list[StoreMenu]:
    """Live stores and one orderable dish of each (with the minimum choice of each option group)."""

    close_old_connections()
    menus = []
    try:
        menus = _menus()
    finally:
        connection.close()
    return menus


def _menus() -> list[StoreMenu]:
    from delivery.models import MenuItem, Store

    menus = []
    for store in Store.objects.filter(status=Store.Status.LIVE, zone__isnull=False):
        item = (
            MenuItem.objects.filter(store=store, available=True)
            .prefetch_related("option_groups__options")
            .order_by("-price_cents")
            .first()
        )
        if item is None:
            continue
        options: list[int] = []
        for group in item.option_groups.all():
            options += [o.pk for o in list(group.options.all())[: group.min_choices]]
        menus.append(StoreMenu(store.pk, store.location.x, store.location.y, item.pk, tuple(options)))
    return menus


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((b[0] - a[0]) * 111_320 * math.cos(lat), (b[1] - a[1]) * 110_540)


class Http:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own server's URL
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return {"_status": error.code, **json.loads(error.read() or b"{}")}

    async def get(self, path: str) -> Any:
        return await asyncio.to_thread(self._call, "GET", path)

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return await asyncio.to_thread(self._call, "POST", path, body if body is not None else {}, headers)


class SimCourier:
    def __init__(
        self,
        account: Account,
        *,
        base: str,
        start: tuple[float, float],
        speedup: float,
        accept_rate: float,
        ping_seconds: float,
        stats: SimStats,
        codes: dict[str, str],
        rng: random.Random,
    ) -> None:
        self.account, self.base = account, base
        self.http = Http(base, account.token)
        self.pos = start
        self.speedup, self.accept_rate, self.ping_seconds = speedup, accept_rate, ping_seconds
        self.stats, self.codes, self.rng = stats, codes, rng
        self.mps = 15 * 1000 / 3600  # e-bike, metres per second
        self.wake = asyncio.Event()

    async def ride(self, target: tuple[float, float], ws: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            dist = _metres(self.pos, target)
            step = self.mps * self.ping_seconds * self.speedup
            if dist <= step:
                self.pos = target
                await self.ping(ws)
                return
            f = step / dist
            self.pos = (self.pos[0] + (target[0] - self.pos[0]) * f, self.pos[1] + (target[1] - self.pos[1]) * f)
            await self.ping(ws)
            await asyncio.sleep(self.ping_seconds)

    async def ping(self, ws: Any) -> None:
        await ws.send(
            json.dumps(
                {
                    "type": "location",
                    "lat": self.pos[1],
                    "lng": self.pos[0],
                    "accuracy": 10,
                    "heading": 0,
                    "speed": self.mps,
                    "ts": time.time() * 1000,
                }
            )
        )
        self.stats.pings += 1

    async def listen(self, ws: Any) -> None:
        async for raw in ws:
            event = json.loads(raw)
            if event.get("type") == "location.ack":
                self.stats.acks += 1
            elif event.get("type") in ("offer.new", "pool.updated"):
                self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        ws_url = self.base.replace("http", "ws", 1) + "/ws/courier/"
        async with connect(ws_url, additional_headers={"Cookie": self.account.cookie, "Origin": self.base}) as ws:
            listener = asyncio.create_task(self.listen(ws))
            await self.ping(ws)
            await self.http.post("/api/v1/courier/online/", {"online": True})
            try:
                while not stop.is_set():
                    await self.step(ws, stop)
            finally:
                listener.cancel()
                await self.http.post("/api/v1/courier/online/", {"online": False})

    async def step(self, ws: Any, stop: asyncio.Event) -> None:
        me = await self.http.get("/api/v1/courier/me/")
        if me.get("_status"):
            self.stats.errors += 1
            await asyncio.sleep(2)
            return
        if me["offer"]:
            self.stats.offers += 1
            await asyncio.sleep(self.rng.uniform(0.5, 3))
            if self.rng.random() < self.accept_rate:
                self.stats.accepted += 1
                await self.http.post(f"/api/v1/courier/offers/{me['offer']['id']}/accept/")
            else:
                self.stats.declined += 1
                await self.http.post(f"/api/v1/courier/offers/{me['offer']['id']}/decline/", {"reason": "busy"})
            return
        if me["tasks"]:
            await self.work(me, ws, stop)
            return
        if me["pool"] and self.rng.random() < 0.5:
            await self.http.post(f"/api/v1/courier/pool/{me['pool'][0]['number']}/grab/")
            return
        # Idle: drift a little and keep pinging until something happens.
        self.wake.clear()
        target = (self.pos[0] + self.rng.uniform(-0.002, 0.002), self.pos[1] + self.rng.uniform(-0.002, 0.002))
        await self.ride(target, ws, stop)
        try:
            await asyncio.wait_for(self.wake.wait(), timeout=self.ping_seconds)
        except TimeoutError:
            await self.ping(ws)

    async def work(self, me: dict[str, Any], ws: Any, stop: asyncio.Event) -> None:
        # The next pickup: a multi-store task goes store by store (the API lists them in order).
        pickup = next((p for p in me.get("pickups") or [] if not p["done"]), None)
        waiting = set(pickup["orders"]) if pickup else set()
        task = next((t for t in me["tasks"] if t["number"] in waiting and t["status"] != "picked_up"), me["tasks"][0])
        if me["state"] == "to_store":
            await self.ride((task["pickup"]["lng"], task["pickup"]["lat"]), ws, stop)
            await self.http.post(f"/api/v1/courier/tasks/{task['number']}/arrived-store/")
        elif me["state"] == "at_store":
            reply = await self.http.post(f"/api/v1/courier/tasks/{task['number']}/picked-up/")
            if reply.get("code") == "order_not_ready":
                await asyncio.sleep(self.ping_seconds)
                await self.ping(ws)
        elif me["state"] == "to_customer":
            for t in me["tasks"]:
                await self.ride((t["dropoff"]["lng"], t["dropoff"]["lat"]), ws, stop)
                await self.http.post(f"/api/v1/courier/tasks/{t['number']}/arrived/")
                code = self.codes.get(t["number"], "")
                reply = await self.http.post(f"/api/v1/courier/tasks/{t['number']}/delivered/", {"code": code})
                if not reply.get("_status"):
                    self.stats.delivered += 1


class SimDiner:
    def __init__(self, account: Account, *, base: str, stats: SimStats, codes: dict[str, str]) -> None:
        self.http = Http(base, account.token)
        self.base, self.stats, self.codes = base, stats, codes

    async def order(self, menu: StoreMenu, rng: random.Random) -> str | None:
        lng = menu.lng + rng.uniform(-0.01, 0.01)
        lat = menu.lat + rng.uniform(-0.01, 0.01)
        body = {
            "store_id": menu.store_id,
            "lines": [{"item_id": menu.item_id, "option_ids": list(menu.option_ids), "quantity": 2}],
            "delivery_address": "模拟地址 Simulated address",
            "delivery_lat": lat,
            "delivery_lng": lng,
            "contact_name": "Sim",
            "contact_phone": "13800138000",
        }
        placed = await self.http.post("/api/v1/orders/", body, {"Idempotency-Key": uuid.uuid4().hex})
        if placed.get("_status"):
            self.stats.errors += 1
            logger.info("order refused: %s", placed)
            return None
        number: str = placed["number"]
        pay = await self.http.post(f"/api/v1/orders/{number}/payments/")
        await asyncio.to_thread(_sandbox_pay, self.base, pay.get("provider_ref", ""), pay.get("amount_cents", 0))
        self.stats.orders_placed += 1
        return number

    async def watch_code(self, number: str, stop: asyncio.Event) -> None:
        """The diner reads the drop-off code off the order page (the tracking API) and "tells"
        the courier: the simulation hands it over."""
        while not stop.is_set():
            snap = await self.http.get(f"/api/v1/orders/{number}/tracking/")
            if snap.get("dropoff_code"):
                self.codes[number] = snap["dropoff_code"]
            if not snap.get("active", True):
                return
            await asyncio.sleep(3)


def _sandbox_pay(base: str, provider_ref: str, amount_cents: int) -> None:
    """Pay as the sandbox provider would: a signed webhook to the web process."""
    from delivery.payments.base import PAYMENT_SUCCEEDED
    from delivery.payments.sandbox import SIGNATURE_HEADER, sandbox_event_body, signature_header

    created = int(time.time())
    raw = sandbox_event_body(
        event_type=PAYMENT_SUCCEEDED, provider_ref=provider_ref, amount_cents=amount_cents, created=created
    )
    header = signature_header(raw_body=raw, timestamp=created, secret=settings.PAYMENT_SANDBOX_SECRET)
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{base}/payments/webhooks/sandbox/",
        data=raw,
        method="POST",
        headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15):  # noqa: S310
        pass


def restaurants_play(*, speedup: float) -> int:
    """Play every store's staff: accept paid orders with the store's prep time, mark ready
    once that (sped-up) time has passed. Returns how many orders moved."""

    close_old_connections()
    try:
        return _restaurants_step(speedup)
    finally:
        connection.close()


def _store_staff(store_id: int, cache: dict[int, Any]) -> Any:
    """Who plays the store: one of its members (the demo's owner), else a simulated staff
    member made for it, so every move goes through the board's access check like a tap."""
    from accounts.models import User
    from delivery.models import StoreMembership

    if store_id not in cache:
        member = StoreMembership.objects.filter(store_id=store_id).select_related("user").order_by("pk").first()
        if member is None:
            user, _ = User.objects.get_or_create(
                username=f"sim-staff-{store_id}", defaults={"display_name": f"sim staff {store_id}"}
            )
            member, _ = StoreMembership.objects.get_or_create(
                user=user, store_id=store_id, defaults={"role": StoreMembership.Role.STAFF}
            )
        cache[store_id] = member.user
    return cache[store_id]


def _restaurants_step(speedup: float) -> int:
    """One pass of the stores' staff, through the board's services (`order_accept` with the
    store's prep time and busy minutes, `order_mark_ready`), exactly what a tap on the board
    does: the access check, the version, the missed-orders counter, the pushes."""
    from django.utils import timezone

    from delivery.models import Order
    from delivery.services import board

    moved = 0
    now = timezone.now()
    staff: dict[int, Any] = {}
    sim_orders = Order.objects.filter(diner__username__contains="-diner-")
    for order in sim_orders.filter(status=Order.Status.PAID).only("pk", "number", "store_id", "version"):
        try:
            board.order_accept(
                user=_store_staff(order.store_id, staff),
                store_id=order.store_id,
                number=order.number,
                version=order.version,
            )
        except board.BoardRefused:  # the diner cancelled, or the deadline passed meanwhile
            continue
        moved += 1
    accepted = sim_orders.filter(status__in=[Order.Status.ACCEPTED, Order.Status.PREPARING])
    for order in accepted.only("pk", "number", "store_id", "version", "prep_minutes", "accepted_at"):
        prep = (order.prep_minutes or 10) * 60 / speedup
        if order.accepted_at and (now - order.accepted_at).total_seconds() >= prep:
            try:
                board.order_mark_ready(
                    user=_store_staff(order.store_id, staff),
                    store_id=order.store_id,
                    number=order.number,
                    version=order.version,
                )
            except board.BoardRefused:
                continue
            moved += 1
    return moved


async def simulate(
    *,
    base: str,
    couriers: int,
    diners: int,
    orders_per_minute: float,
    duration: float,
    speedup: float,
    accept_rate: float,
    ping_seconds: float,
    prefix: str,
    seed: int,
    play_restaurants: bool,
) -> SimStats:
    """Run the simulation for `duration` seconds (0: until cancelled); returns the counts."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not security
    await _server_ready(base)
    stats = SimStats()
    codes: dict[str, str] = {}
    courier_accounts, diner_accounts = await sync_to_async(accounts_prepare, thread_sensitive=False)(
        couriers=couriers, diners=diners, prefix=prefix
    )
    menus = await sync_to_async(stores_with_menus, thread_sensitive=False)()
    if not menus:
        raise RuntimeError("no live store with a menu: run `manage.py seed_demo` first")
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    for account in courier_accounts:
        m = rng.choice(menus)
        start = (m.lng + rng.uniform(-0.01, 0.01), m.lat + rng.uniform(-0.01, 0.01))
        sim = SimCourier(
            account,
            base=base,
            start=start,
            speedup=speedup,
            accept_rate=accept_rate,
            ping_seconds=ping_seconds,
            stats=stats,
            codes=codes,
            rng=random.Random(rng.random()),  # noqa: S311
        )
        tasks.append(asyncio.create_task(_guard(sim.run(stop), stats)))
        await asyncio.sleep(0.01)  # spread the handshakes

    async def place_orders() -> None:
        sims = [SimDiner(a, base=base, stats=stats, codes=codes) for a in diner_accounts]
        while not stop.is_set():
            diner = rng.choice(sims)
            number = await diner.order(rng.choice(menus), rng)
            if number:
                tasks.append(asyncio.create_task(_guard(diner.watch_code(number, stop), stats)))
            await asyncio.sleep(rng.expovariate(orders_per_minute / 60) if orders_per_minute > 0 else 3600)

    async def restaurants() -> None:
        while not stop.is_set():
            await sync_to_async(restaurants_play, thread_sensitive=False)(speedup=speedup)
            await asyncio.sleep(2)

    tasks.append(asyncio.create_task(_guard(place_orders(), stats)))
    if play_restaurants:
        tasks.append(asyncio.create_task(_guard(restaurants(), stats)))
    try:
        if duration > 0:
            await asyncio.sleep(duration)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=20)
    return stats


async def _server_ready(base: str, wait_seconds: float = 90.0) -> None:
    """Wait for the web process (under `make run` the simulator starts beside it)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            await asyncio.to_thread(urllib.request.urlopen, f"{base}/ping", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def _guard(coro: Any, stats: SimStats) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        stats.errors += 1
        logger.exception("simulated client failed")
