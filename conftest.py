"""Fixtures shared by every app's tests: personas, and a Redis namespace of the run's own.

Personas: a diner, a restaurant owner with their store, a courier, a regulator with a district,
an operator, and an outsider who holds no role and must be refused everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test.utils import override_settings

from accounts.models import User
from accounts.tests.factories import DinerFactory, RegulatorFactory, UserFactory
from config.celery import app as celery_app
from delivery.models import Store, StoreMembership
from delivery.tests.factories import StoreFactory, StoreMembershipFactory
from dispatch.models import Courier
from dispatch.tests.factories import CourierFactory

# Every Redis key, channel-layer name and Celery queue of this run carries this prefix, so the
# tests never touch the keys of a `make run` system on the same Redis (nor its Celery worker).
TEST_REDIS_PREFIX = f"mingchu-test-{os.getpid()}"


@pytest.fixture(scope="session", autouse=True)
def _redis_namespace() -> Iterator[None]:
    from django.conf import settings
    from django.db import connections

    # Threads of this process (race tests, sync_to_async) close their connections after use,
    # so that the run's test database can be dropped at the end; the servers the tests start
    # keep production's persistent connections (tests/conftest.py).
    connections.settings["default"]["CONN_MAX_AGE"] = 0

    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": f"{TEST_REDIS_PREFIX}:asgi"}
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": TEST_REDIS_PREFIX}}
    override = override_settings(REDIS_PREFIX=TEST_REDIS_PREFIX, CHANNEL_LAYERS=layers, CACHES=caches)
    override.enable()
    transport = {**celery_app.conf.broker_transport_options, "global_keyprefix": f"{TEST_REDIS_PREFIX}:"}
    celery_app.conf.broker_transport_options = transport
    celery_app.conf.result_backend_transport_options = {"global_keyprefix": f"{TEST_REDIS_PREFIX}:"}
    os.environ["REDIS_PREFIX"] = TEST_REDIS_PREFIX  # for subprocesses (the dispatcher)
    try:
        yield
    finally:
        override.disable()


@pytest.fixture
def diner(db: None) -> User:
    user: User = DinerFactory(user__username="diner-wang").user
    return user


@pytest.fixture
def store(db: None) -> Store:
    store: Store = StoreFactory()
    return store


@pytest.fixture
def owner(store: Store) -> User:
    membership: StoreMembership = StoreMembershipFactory(store=store, user__username="owner-li")
    return membership.user


@pytest.fixture
def courier(db: None) -> Courier:
    courier: Courier = CourierFactory(user__username="courier-zhang")
    return courier


@pytest.fixture
def regulator(db: None) -> User:
    user: User = RegulatorFactory(user__username="regulator-chen").user
    return user


@pytest.fixture
def operator(db: None) -> User:
    user: User = UserFactory(username="operator-zhao", is_staff=True)
    return user


@pytest.fixture
def outsider(db: None) -> User:
    """Signed up, holds no role: every access_* answer for them is no."""
    user: User = UserFactory(username="outsider-liu")
    return user


@pytest.fixture
def shared_dir() -> Path:
    """`../shared` (settings.SHARED_DIR): the research data; tests that need it skip without it."""
    from django.conf import settings

    if not settings.SHARED_DIR.is_dir():
        pytest.skip(f"shared data not found at {settings.SHARED_DIR}")
    return settings.SHARED_DIR
