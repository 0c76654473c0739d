"""Compliance sweeps run by Celery beat: each calls one idempotent service."""

from __future__ import annotations

from celery import shared_task

from compliance.services.complaints import complaints_escalate as _complaints_escalate
from compliance.services.sanctions import sanctioned_stores_orders_settle as _sanctioned_stores_orders_settle
from compliance.services.sanctions import suspensions_ended_lift as _suspensions_ended_lift


@shared_task(name="compliance.cases.tasks.complaints_escalate", acks_late=True)
def complaints_escalate() -> int:
    """Escalate each breached complaint deadline once; a rerun escalates nothing twice."""
    return _complaints_escalate()


@shared_task(name="compliance.cases.tasks.sanctioned_stores_orders_settle")
def sanctioned_stores_orders_settle() -> int:
    """Cancel and refund what a sanctioned store still holds (a refund the provider could not
    make at once, a payment that arrived after the cancellation). Not acks_late: refunds ask a
    provider; a lost run is made up by the next one a minute later."""
    return _sanctioned_stores_orders_settle()


@shared_task(name="compliance.cases.tasks.suspensions_ended_lift", acks_late=True)
def suspensions_ended_lift() -> int:
    """Lift each suspension whose term has ended, once (a CAS claims it), so acks_late."""
    return _suspensions_ended_lift()
