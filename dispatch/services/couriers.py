"""A courier's shift: going online and offline."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.realtime import event_push_on_commit, group_for_user
from core.redis import state_redis
from dispatch.models import Courier, Offer
from dispatch.services.locations import courier_position_forget
from dispatch.transitions import CourierMove, TransitionRefused, courier_transition

C = Courier.State

# Conditions of going online, each answering None (fine) or (code, readable message). Other apps
# add theirs in AppConfig.ready(): the compliance app refuses a courier without a valid, verified
# health certificate. `couriers_available` applies the same rule to whom dispatch offers work.
GO_ONLINE_CHECKS: list[Callable[[Courier], tuple[str, str] | None]] = []


def courier_go_online(*, courier: Courier, actor: User | None) -> CourierMove:
    """offline -> idle, starting a shift, if every GO_ONLINE_CHECKS allows it (else
    TransitionRefused with the check's code). Idempotent: an online courier stays as they are.
    Whether they may be offered work is `couriers_available`'s question (fresh position,
    certificates), not this one's."""
    if courier.state != C.OFFLINE:
        return CourierMove(courier=courier, changed=False, from_state=courier.state)
    for check in GO_ONLINE_CHECKS:
        refusal = check(courier)
        if refusal is not None:
            raise TransitionRefused(*refusal)
    move = courier_transition(
        courier_id=courier.pk,
        to=C.IDLE,
        actor=actor,
        reason="online",
        fields={"shift_started_at": timezone.now()},
    )
    event_push_on_commit(group_for_user(courier.user_id), "courier.updated", {"state": move.courier.state})
    return move


def courier_go_offline(*, courier: Courier, actor: User | None) -> CourierMove:
    """idle/offered -> offline, ending the shift; a pending offer is declined (it goes to the
    next courier). Refused while carrying an order. Idempotent."""
    from dispatch.services.offers import offer_decline

    if courier.state == C.OFFLINE:
        return CourierMove(courier=courier, changed=False, from_state=C.OFFLINE)
    if courier.state not in (C.IDLE, C.OFFERED):
        raise TransitionRefused("courier_busy", _("Finish your current task before going offline."))
    with transaction.atomic():
        for offer in Offer.objects.filter(courier=courier, status=Offer.Status.PENDING):
            offer_decline(offer_id=offer.pk, courier=courier, actor=actor, reason="went offline")
        move = courier_transition(
            courier_id=courier.pk,
            to=C.OFFLINE,
            actor=actor,
            reason="offline",
            expected_from=frozenset({C.IDLE, C.OFFERED}),
            fields={"shift_started_at": None},
        )
    courier_position_forget(state_redis(), courier_id=courier.pk)
    event_push_on_commit(group_for_user(courier.user_id), "courier.updated", {"state": move.courier.state})
    return move
