"""The cases API: the queue, a case and its actions; refusals in the shared error shape; the
outsider, another store's owner and another district's regulator refused."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from compliance.cases.models import Case
from compliance.cases.services import case_open_from_flag
from compliance.models import Flag

pytestmark = pytest.mark.django_db


def _api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _act(user: User, case: Case, **data: Any) -> Any:
    return _api(user).post(f"/api/v1/cases/{case.pk}/actions/", data, format="json")


def test_the_queue_is_the_regulators_own(regulator: User, far_regulator: User, flag: Flag, outsider: User) -> None:
    rows = _api(regulator).get("/api/v1/regulator/queue/").json()
    assert [row["flags"][0]["code"] for row in rows] == ["LICENCE_SHARED"] and rows[0]["case_id"] is None
    assert _api(far_regulator).get("/api/v1/regulator/queue/").json() == []
    refused = _api(outsider).get("/api/v1/regulator/queue/")
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_regulator"
    assert _api(None).get("/api/v1/regulator/queue/").status_code in (401, 403)


def test_a_case_runs_through_the_api_and_refusals_keep_their_codes(
    regulator: User, flag: Flag, shop_owner: User
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    wrong = _act(regulator, case, action="review")
    assert wrong.status_code == 409 and wrong.json()["code"] == "case_state_conflict"
    assert _act(regulator, case, action="triage").json()["status"] == "triage"
    assert _act(regulator, case, action="triage").status_code == 200  # a retry is a success
    _act(regulator, case, action="review")
    empty = _act(regulator, case, action="notice", text="")
    assert empty.status_code == 400 and empty.json()["fields"] == {"text": ["This cannot be empty."]}
    _act(regulator, case, action="notice", text="Explain.", defence_days=2)
    early = _act(regulator, case, action="decide", decision="suspension", text="x")
    assert early.status_code == 409 and early.json()["code"] == "defence_pending"
    assert _act(shop_owner, case, action="defence", text="Ours.").json()["defence_text"] == "Ours."
    # The merchant cannot act as a regulator on its own case.
    assert _act(shop_owner, case, action="decide", decision="no_action", text="x").status_code == 404
    done = _act(regulator, case, action="decide", decision="suspension", text="Borrowed licence.")
    body = done.json()
    assert body["status"] == "decision" and body["sanction_id"] is not None and body["audit_intact"] is True
    assert [e["action"] for e in body["events"]] == ["open", "triage", "review", "notice", "defence", "decide"]
    assert _api(shop_owner).get(f"/api/v1/cases/{case.pk}/").status_code == 200


def test_outsiders_are_refused_on_every_case_endpoint(
    regulator: User, far_regulator: User, flag: Flag, outsider: User, owner: User
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    for user in (far_regulator, outsider, owner):
        detail = _api(user).get(f"/api/v1/cases/{case.pk}/")
        assert detail.status_code == 404 and detail.json()["code"] == "not_found"
        for action in ("triage", "close", "defence", "appeal"):
            assert _act(user, case, action=action, text="x").status_code == 404
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
