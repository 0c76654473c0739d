"""Zone leases with fencing: several dispatcher processes share the zones, one per zone at a time.

A lease row per zone names its holder, an expiry and a fencing token. Taking a free or expired
lease bumps the token; renewing one's own keeps it. Every write a dispatcher makes for a zone
first re-reads its lease row FOR SHARE in the same transaction (`lease_check`): if the token
moved on, the write is abandoned; if another process is taking the lease right now, its UPDATE
waits for our commit, so a write is either fully under the old holder or refused. Without this a
process paused past its expiry (GC, a slow disk) would wake up and offer orders that the new
holder is offering too. The compare-and-swap on each order's dispatch row is the second line of
defence: one order can be offered only from `waiting`.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class LeaseHold:
    zone_key: str
    holder: str
    token: int


class LeaseLost(Exception):
    pass


def holder_name() -> str:
    """A name unique to this process run (host, pid, and a random part for pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_acquire(*, zone_key: str, holder: str, seconds: float) -> LeaseHold | None:
    """Take or renew the zone's lease for `seconds`; None when another live holder has it.
    One statement (an upsert whose update is conditional), so two processes asking at once
    cannot both get it."""
    # Raw SQL: the ORM's update_or_create cannot express "update only if free or mine" atomically.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dispatch_dispatchlease (zone_key, holder, token, expires_at, updated_at)
            VALUES (%s, %s, 1, clock_timestamp() + make_interval(secs => %s), clock_timestamp())
            ON CONFLICT (zone_key) DO UPDATE
               SET token = CASE WHEN dispatch_dispatchlease.holder = EXCLUDED.holder
                                THEN dispatch_dispatchlease.token
                                ELSE dispatch_dispatchlease.token + 1 END,
                   holder = EXCLUDED.holder,
                   expires_at = EXCLUDED.expires_at,
                   updated_at = EXCLUDED.updated_at
             WHERE dispatch_dispatchlease.holder = EXCLUDED.holder
                OR dispatch_dispatchlease.expires_at < clock_timestamp()
            RETURNING token
            """,
            [zone_key, holder, seconds],
        )
        row = cursor.fetchone()
    return LeaseHold(zone_key=zone_key, holder=holder, token=int(row[0])) if row else None


def lease_release(*, hold: LeaseHold) -> None:
    """Give the lease up at once (a clean shutdown), so another process takes the zone now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dispatch_dispatchlease SET expires_at = clock_timestamp() "
            "WHERE zone_key = %s AND holder = %s AND token = %s",
            [hold.zone_key, hold.holder, hold.token],
        )


def lease_check(hold: LeaseHold) -> None:
    """Inside the caller's transaction: raise LeaseLost unless `hold` is still the live lease;
    keeps the row share-locked until the transaction ends (see the module's docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM dispatch_dispatchlease WHERE zone_key = %s AND holder = %s AND token = %s "
            "AND expires_at > clock_timestamp() FOR SHARE",
            [hold.zone_key, hold.holder, hold.token],
        )
        if cursor.fetchone() is None:
            raise LeaseLost(hold.zone_key)
