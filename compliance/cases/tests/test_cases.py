"""Cases: the transition table (allowed and refused moves), jurisdiction, and the audit chain."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from compliance.cases.models import Case, CaseEvent
from compliance.cases.services import (
    TRANSITIONS,
    CaseRefused,
    case_appeal_decide,
    case_appeal_file,
    case_audit_verify,
    case_close,
    case_decide,
    case_defence_file,
    case_note,
    case_notice_send,
    case_open_from_flag,
    case_review,
    case_triage,
)
from compliance.models import Flag, Sanction
from delivery.models import Store

pytestmark = pytest.mark.django_db
C = Case.Status


def _to_notice(regulator: User, flag: Flag) -> Case:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    case_triage(regulator=regulator, case=case)
    case_review(regulator=regulator, case=case)
    case_notice_send(regulator=regulator, case=case, text="一证多店：请说明。", defence_days=3)
    return case


def test_a_case_runs_from_flag_to_appeal_and_closure(regulator: User, flag: Flag, shop_owner: User) -> None:
    case = _to_notice(regulator, flag)
    assert case.status == C.NOTICE and case.defence_due_at is not None
    case_defence_file(user=shop_owner, case=case, text="The licence is ours; the other shop is a branch.")
    case_decide(regulator=regulator, case=case, decision=Case.Decision.WARNING, reason="Licence lent to a branch.")
    assert case.status == C.DECISION and case.sanction is not None
    assert case.sanction.kind == Sanction.Kind.WARNING
    case_appeal_file(user=shop_owner, case=case, text="We disagree.")
    case_appeal_decide(regulator=regulator, case=case, overturn=False, reason="The evidence stands.")
    assert case.status == C.CLOSED and case.appeal_outcome == Case.AppealOutcome.UPHELD
    actions = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert actions == ["open", "triage", "review", "notice", "defence", "decide", "appeal", "appeal_decided"]
    assert case_audit_verify(case) is None


def test_reviewing_a_flag_twice_opens_one_case(regulator: User, flag: Flag) -> None:
    first = case_open_from_flag(regulator=regulator, flag=flag)
    again = case_open_from_flag(regulator=regulator, flag=flag)
    assert first.pk == again.pk and Case.objects.count() == 1


def test_a_repeated_move_is_a_no_op_and_writes_no_event(regulator: User, flag: Flag) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    case_triage(regulator=regulator, case=case)
    case_triage(regulator=regulator, case=case)
    assert CaseEvent.objects.filter(case=case, action="triage").count() == 1


@pytest.mark.parametrize(
    "steps, move",
    [
        ([], "review"),  # open -> review skips triage
        ([], "notice"),
        (["triage"], "decide"),
        (["triage", "review"], "appeal"),
        (["triage", "review", "notice"], "close"),  # a noticed case must be decided
    ],
)
def test_moves_the_table_does_not_allow_are_refused(
    regulator: User, flag: Flag, shop_owner: User, steps: list[str], move: str
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    for step in steps:
        {
            "triage": lambda: case_triage(regulator=regulator, case=case),
            "review": lambda: case_review(regulator=regulator, case=case),
            "notice": lambda: case_notice_send(regulator=regulator, case=case, text="n"),
        }[step]()
    before = case.status
    moves = {
        "review": lambda: case_review(regulator=regulator, case=case),
        "notice": lambda: case_notice_send(regulator=regulator, case=case, text="n"),
        "decide": lambda: case_decide(regulator=regulator, case=case, decision="warning", reason="r"),
        "appeal": lambda: case_appeal_file(user=shop_owner, case=case, text="a"),
        "close": lambda: case_close(regulator=regulator, case=case, reason="r"),
    }
    with pytest.raises(CaseRefused) as refused:
        moves[move]()
    assert refused.value.code == "case_state_conflict" and refused.value.status == 409
    case.refresh_from_db()
    assert case.status == before


def test_the_table_ends_in_closed_and_closed_is_final() -> None:
    assert TRANSITIONS[C.CLOSED] == frozenset()
    reachable = {C.OPEN} | {to for tos in TRANSITIONS.values() for to in tos}
    assert reachable == set(C.values)


def test_a_decision_waits_for_the_defence_or_its_deadline(regulator: User, flag: Flag, shop_owner: User) -> None:
    case = _to_notice(regulator, flag)
    with pytest.raises(CaseRefused) as refused:
        case_decide(regulator=regulator, case=case, decision="warning", reason="r")
    assert refused.value.code == "defence_pending"
    later = timezone.now() + timedelta(days=4)
    with pytest.raises(CaseRefused) as late:
        case_defence_file(user=shop_owner, case=case, text="too late", now=later)
    assert late.value.code == "defence_late"
    case_decide(regulator=regulator, case=case, decision="no_action", reason="Explained.", now=later)
    assert case.status == C.DECISION and case.sanction is None
    with pytest.raises(CaseRefused) as nothing:
        case_appeal_file(user=shop_owner, case=case, text="?")
    assert nothing.value.code == "nothing_to_appeal"


def test_rectification_needs_a_future_date(regulator: User, flag: Flag, shop_owner: User) -> None:
    case = _to_notice(regulator, flag)
    case_defence_file(user=shop_owner, case=case, text="ok")
    with pytest.raises(CaseRefused) as refused:
        case_decide(regulator=regulator, case=case, decision="rectification", reason="r", rectify_by=date(2000, 1, 1))
    assert refused.value.field == "rectify_by"
    by = timezone.localdate() + timedelta(days=30)
    case_decide(regulator=regulator, case=case, decision="rectification", reason="Post the licence.", rectify_by=by)
    assert case.sanction is not None and case.sanction.rectify_by == by


def test_a_regulator_of_another_district_is_refused_everything(
    regulator: User, far_regulator: User, flag: Flag, outsider: User, shop_owner: User
) -> None:
    with pytest.raises(CaseRefused) as refused:
        case_open_from_flag(regulator=far_regulator, flag=flag)
    assert refused.value.status == 404
    case = case_open_from_flag(regulator=regulator, flag=flag)
    for user in (far_regulator, outsider, shop_owner):
        for act in (
            lambda u: case_triage(regulator=u, case=case),
            lambda u: case_note(regulator=u, case=case, text="x"),
            lambda u: case_close(regulator=u, case=case, reason="x"),
        ):
            with pytest.raises(CaseRefused) as refused:
                act(user)
            assert refused.value.status == 404
    case.refresh_from_db()
    assert case.status == C.OPEN


def test_only_the_stores_manager_files_a_defence(
    regulator: User, flag: Flag, owner: User, outsider: User, far_regulator: User
) -> None:
    case = _to_notice(regulator, flag)
    for user in (owner, outsider, far_regulator, regulator):  # `owner` owns another store
        with pytest.raises(CaseRefused) as refused:
            case_defence_file(user=user, case=case, text="x")
        assert refused.value.status == 404


def _chain(regulator: User, flag: Flag) -> Case:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    case_triage(regulator=regulator, case=case)
    case_note(regulator=regulator, case=case, text="Called the store; no answer.")
    case_review(regulator=regulator, case=case)
    assert case_audit_verify(case) is None
    return case


def test_the_audit_chain_detects_an_edited_row(regulator: User, flag: Flag) -> None:
    case = _chain(regulator, flag)
    with connection.cursor() as cursor:
        # Tampering as someone with database access would: a raw UPDATE, bypassing the app.
        cursor.execute(
            "UPDATE cases_caseevent SET payload = %s WHERE case_id = %s AND seq = 3",
            ['{"text": "Called the store; all fine."}', case.pk],
        )
    broken = case_audit_verify(case)
    assert broken is not None and broken.seq == 3 and broken.reason == "edited"


def test_the_audit_chain_detects_a_changed_actor(regulator: User, flag: Flag, far_regulator: User) -> None:
    case = _chain(regulator, flag)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_caseevent SET actor_id = %s WHERE case_id = %s AND seq = 2", [far_regulator.pk, case.pk]
        )
    broken = case_audit_verify(case)
    assert broken is not None and broken.seq == 2


def test_the_audit_chain_detects_a_deleted_row(regulator: User, flag: Flag) -> None:
    case = _chain(regulator, flag)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cases_caseevent WHERE case_id = %s AND seq = 2", [case.pk])
    broken = case_audit_verify(case)
    assert broken is not None and broken.seq == 2 and broken.reason == "missing"


def test_the_audit_chain_detects_a_deleted_last_row(regulator: User, flag: Flag) -> None:
    case = _chain(regulator, flag)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cases_caseevent WHERE case_id = %s AND seq = 4", [case.pk])
    broken = case_audit_verify(case)
    assert broken is not None and broken.reason == "head"


def test_a_suspension_decided_on_a_case_takes_the_store_off(regulator: User, flag: Flag, shop_owner: User) -> None:
    case = _to_notice(regulator, flag)
    case_defence_file(user=shop_owner, case=case, text="ok")
    case_decide(regulator=regulator, case=case, decision="suspension", reason="Borrowed licence.")
    assert Store.objects.get(pk=case.store_id).status == Store.Status.SUSPENDED
    case_appeal_file(user=shop_owner, case=case, text="It was a misunderstanding.")
    case_appeal_decide(regulator=regulator, case=case, overturn=True, reason="The licence was valid.")
    assert Store.objects.get(pk=case.store_id).status == Store.Status.LIVE
    assert case.sanction is not None
    assert Sanction.objects.get(pk=case.sanction.pk).lifted_on is not None


def test_a_resolved_flag_opens_no_case(regulator: User, flag: Flag) -> None:
    Flag.objects.filter(pk=flag.pk).update(status=Flag.Status.RESOLVED, resolved_at=timezone.now())
    flag.refresh_from_db()
    with pytest.raises(CaseRefused) as refused:
        case_open_from_flag(regulator=regulator, flag=flag)
    assert refused.value.code == "flag_resolved" and not Case.objects.exists()


def test_the_queue_ranks_by_severity_then_inspection_risk_then_age() -> None:
    from compliance.cases.selectors import QueueRow, queue_rank

    now = timezone.now()
    stores = [Store(pk=i, name_zh=f"店{i}") for i in range(1, 5)]
    rows = [
        QueueRow(store=stores[0], since=now - timedelta(days=9), severity=Flag.Severity.MEDIUM, risk=0.9),
        QueueRow(store=stores[1], since=now, severity=Flag.Severity.HIGH, risk=0.1),
        QueueRow(store=stores[2], since=now - timedelta(days=1), severity=Flag.Severity.HIGH, risk=0.7),
        QueueRow(store=stores[3], since=now - timedelta(days=2), severity=Flag.Severity.HIGH, risk=0.1),
    ]

    ranked = [row.store.pk for row in queue_rank(rows)]

    # The high flags first, the riskier store among them first, then the older; medium last
    assert ranked == [3, 4, 2, 1]
