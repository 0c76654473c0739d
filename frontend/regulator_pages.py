"""The regulator's pages (queue, map of flagged stores, statistics, case page and its actions)
and the merchant's side of a case (the notice, the defence, the appeal).

Access: a regulator sees only stores in their district (`access_regulator_store`; anything
outside is a 404, as if it did not exist); a merchant sees only cases of stores they own or
manage. Views parse the form, call one service, and show refusals next to the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, Concatenate

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import STORE_ROLES_MANAGE, access_regulator_store, access_store
from accounts.models import RegulatorProfile, User
from compliance.cases import services as cases
from compliance.cases.models import Case
from compliance.cases.selectors import (
    case_evidence,
    flagged_pins_for,
    queue_for,
    statistics_for,
)
from compliance.cases.services import CaseRefused, case_audit_verify
from compliance.models import Flag, Sanction, StoreRegistration
from compliance.services.sanctions import SanctionRefused, store_sanctions_in_force
from delivery.geocoding import get_geocoder, normalise_address
from delivery.models import Store, StoreMembership

QUEUE_PAGE_SIZE = 50
# A geocoded address (or its absence) is kept this long for stores without a registration.
GEOCODE_CACHE_SECONDS = 60 * 60 * 24 * 7

# Refusals in the reader's language, by the services' stable codes.
REFUSALS: dict[str, Any] = {
    "case_state_conflict": gettext_lazy("The case has moved on; this action no longer applies."),
    "defence_pending": gettext_lazy("The merchant may still answer the notice; decide after its deadline."),
    "defence_late": gettext_lazy("The time to answer this notice has passed."),
    "defence_filed": gettext_lazy("A defence has been filed already."),
    "appeal_late": gettext_lazy("The time to appeal has passed."),
    "nothing_to_appeal": gettext_lazy("There is nothing to appeal in this decision."),
    "rectify_by_required": gettext_lazy("Give a date in the future to rectify by."),
    "text_required": gettext_lazy("This cannot be empty."),
    "text_too_long": gettext_lazy("This is too long."),
    "invalid_days": gettext_lazy("Give 1 to 30 days for the defence."),
    "invalid_decision": gettext_lazy("Choose a decision."),
    "repair_too_early": gettext_lazy("A dishonest listing can be removed early only after it has run for one year."),
    "not_repairable": gettext_lazy("Only a dishonest listing is removed by credit repair."),
    "reason_required": gettext_lazy("Give the reason."),
    "no_sanction": gettext_lazy("This case imposed no sanction."),
    "flag_resolved": gettext_lazy("This flag has resolved itself; its cause is gone."),
}


def regulator_required[**P](
    view: Callable[Concatenate[HttpRequest, User, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Signed in (else to the login page) and a regulator (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not isinstance(user, User) or not user.is_active:
            raise PermissionDenied
        if not RegulatorProfile.objects.filter(user_id=user.pk).exists():
            raise PermissionDenied
        return view(request, user, *args, **kwargs)

    return wrapper


def signed_in[**P](
    view: Callable[Concatenate[HttpRequest, User, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or not isinstance(user, User) or not user.is_active:
            return redirect_to_login(request.get_full_path())
        return view(request, user, *args, **kwargs)

    return wrapper


def _refusal(refused: CaseRefused) -> str:
    return str(REFUSALS.get(refused.code, refused.message))


# --- Evidence shown readably --------------------------------------------------------------------


def evidence_rows(value: Any, path: str = "") -> list[tuple[str, str]]:
    """A flag's evidence JSON as (label, text) rows: nested keys joined by ' > ', lists numbered
    from 1, scalars as text. Readable without knowing JSON."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            label = str(key).replace("_", " ")
            rows += evidence_rows(inner, f"{path} > {label}" if path else label)
        return rows
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [(path, ", ".join(str(item) for item in value))]
        rows = []
        for index, inner in enumerate(value, start=1):
            rows += evidence_rows(inner, f"{path} > {index}")
        return rows
    if value is None:
        return [(path, "—")]
    return [(path, str(value))]


# --- Dashboard ----------------------------------------------------------------------------------


@regulator_required
@require_GET
def dashboard(request: HttpRequest, regulator: User) -> HttpResponse:
    """The queue (open cases, then flags nobody has taken up, ranked), the map of flagged stores
    and the statistics, all inside the regulator's districts."""
    profiles = RegulatorProfile.objects.filter(user_id=regulator.pk)
    pins = [pin.__dict__ for pin in flagged_pins_for(regulator)]
    # The queue can run to thousands of rows: ranked whole, shown a page at a time.
    page = Paginator(queue_for(regulator), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "queue": page.object_list,
        "page": page,
        "pins": pins,
        "stats": statistics_for(regulator),
        "status_labels": dict(Case.Status.choices),
        "decision_labels": dict(Case.Decision.choices),
        "jurisdictions": [p.jurisdiction_name for p in profiles],
    }
    return render(request, "frontend/regulator/dashboard.html", context)


@regulator_required
@require_POST
def flag_take(request: HttpRequest, regulator: User, flag_id: int) -> HttpResponse:
    """Open (or return to) the case about an open flag."""
    flag = get_object_or_404(Flag.objects.select_related("store"), pk=flag_id)
    try:
        case = cases.case_open_from_flag(regulator=regulator, flag=flag)
    except CaseRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        messages.error(request, _refusal(refused))
        return redirect("frontend:regulator")
    return redirect("frontend:regulator_case", case_id=case.pk)


# --- The case page ------------------------------------------------------------------------------


class NoticeForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What the merchant must answer"),
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "notice-text"}),
        max_length=cases.TEXT_MAX,
    )
    defence_days = forms.IntegerField(
        label=gettext_lazy("Days to answer"),
        min_value=1,
        max_value=cases.DEFENCE_DAYS_MAX,
        initial=cases.DEFENCE_DAYS_DEFAULT,
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=Case.Decision.choices,
        widget=forms.Select(attrs={"data-testid": "decision"}),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons"),
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "decision-reason"}),
        max_length=cases.TEXT_MAX,
    )
    rectify_by = forms.DateField(
        label=gettext_lazy("Rectify by"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class TextForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"),
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "case-text"}),
        max_length=cases.TEXT_MAX,
    )


class ReasonForm(TextForm):
    text = forms.CharField(
        label=gettext_lazy("Reasons"),
        widget=forms.Textarea(attrs={"rows": 2, "data-testid": "case-reason"}),
        max_length=cases.TEXT_MAX,
    )


class AnswerForm(TextForm):
    text = forms.CharField(
        label=gettext_lazy("Your answer"),
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "case-text"}),
        max_length=cases.TEXT_MAX,
    )


class AppealDecisionForm(forms.Form):
    overturn = forms.TypedChoiceField(
        label=gettext_lazy("Outcome"),
        choices=((False, gettext_lazy("Uphold the decision")), (True, gettext_lazy("Overturn the decision"))),
        coerce=lambda v: v in (True, "True", "true", "1"),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons"), widget=forms.Textarea(attrs={"rows": 3}), max_length=cases.TEXT_MAX
    )


def _case_for_regulator(regulator: User, case_id: int) -> Case:
    case = get_object_or_404(Case.objects.select_related("store", "flag", "complaint", "sanction"), pk=case_id)
    if not access_regulator_store(regulator, case.store):
        raise Http404
    return case


def _geocoded(store: Store) -> dict[str, Any] | None:
    """Where the store's claimed address geocodes to. The point the registration keeps (the
    import and the rules geocode each address once) is used while the address is unchanged;
    otherwise the geocoder is asked once, the answer kept on the registration and, for a store
    without one, in the cache by address, so a case page never waits on the geocoder twice."""
    registration = (
        StoreRegistration.objects.filter(store_id=store.pk).only("geocoded_location", "geocoded_address").first()
    )
    if (
        registration is not None
        and registration.geocoded_location is not None
        and registration.geocoded_address == store.address
    ):
        point = registration.geocoded_location
        return {"address": store.address, "lat": float(point.y), "lng": float(point.x)}
    key = "geocoded:" + hashlib.sha256(normalise_address(store.address).encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        try:
            location = get_geocoder().geocode(store.address)
        except Exception:  # noqa: BLE001 - a geocoder outage must not hide the case page
            return None  # not cached: the next view asks again
        cached = (
            {"address": str(location.address), "lat": float(location.latitude), "lng": float(location.longitude)}
            if location is not None
            else {}
        )
        cache.set(key, cached, GEOCODE_CACHE_SECONDS)
        if cached and registration is not None:
            StoreRegistration.objects.filter(pk=registration.pk).update(
                geocoded_location=Point(cached["lng"], cached["lat"], srid=4326), geocoded_address=store.address
            )
    return cached or None


def _case_page(
    request: HttpRequest, regulator: User, case: Case, forms_: dict[str, forms.Form] | None = None, status: int = 200
) -> HttpResponse:
    evidence = case_evidence(case)
    geocoded = _geocoded(case.store)
    pins = [{"name": case.store.display_name, "lat": case.store.location.y, "lng": case.store.location.x}]
    if geocoded:
        pins.append(
            {"name": _("Geocoded: %(a)s") % {"a": geocoded["address"]}, "lat": geocoded["lat"], "lng": geocoded["lng"]}
        )
    flags = [(flag, evidence_rows(flag.evidence)) for flag in evidence.flags]
    built = {
        "notice": NoticeForm(),
        "decide": DecisionForm(),
        "note": TextForm(),
        "close": ReasonForm(),
        "lift": ReasonForm(),
        "appeal_decide": AppealDecisionForm(),
        **(forms_ or {}),
    }
    context = {
        "case": case,
        "ev": evidence,
        "flags": flags,
        "geocoded": geocoded,
        "pins": pins,
        "audit_break": case_audit_verify(case),
        "forms": built,
        "can": set(cases.TRANSITIONS.get(case.status, frozenset())),
        "sanction_open": case.sanction is not None and case.sanction.lifted_on is None,
        "dishonest": case.sanction is not None and case.sanction.kind == Sanction.Kind.DISHONEST_LIST,
        "events": [(event, json.dumps(event.payload, ensure_ascii=False)) for event in evidence.events],
    }
    return render(request, "frontend/regulator/case.html", context, status=status)


@regulator_required
@require_GET
def case_page(request: HttpRequest, regulator: User, case_id: int) -> HttpResponse:
    return _case_page(request, regulator, _case_for_regulator(regulator, case_id))


@regulator_required
@require_POST
def case_act(request: HttpRequest, regulator: User, case_id: int, action: str) -> HttpResponse:
    """One action on the case: triage, review, notice, decide, note, close, appeal_decide."""
    case = _case_for_regulator(regulator, case_id)
    form: forms.Form | None = None
    try:
        if action == "triage":
            cases.case_triage(regulator=regulator, case=case)
        elif action == "review":
            cases.case_review(regulator=regulator, case=case)
        elif action == "notice":
            form = NoticeForm(request.POST)
            if form.is_valid():
                cases.case_notice_send(regulator=regulator, case=case, **form.cleaned_data)
        elif action == "decide":
            form = DecisionForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                cases.case_decide(
                    regulator=regulator,
                    case=case,
                    decision=data["decision"],
                    reason=data["reason"],
                    rectify_by=data.get("rectify_by"),
                )
        elif action == "note":
            form = TextForm(request.POST)
            if form.is_valid():
                cases.case_note(regulator=regulator, case=case, text=form.cleaned_data["text"])
        elif action == "close":
            form = ReasonForm(request.POST)
            if form.is_valid():
                cases.case_close(regulator=regulator, case=case, reason=form.cleaned_data["text"])
        elif action == "appeal_decide":
            form = AppealDecisionForm(request.POST)
            if form.is_valid():
                cases.case_appeal_decide(
                    regulator=regulator,
                    case=case,
                    overturn=form.cleaned_data["overturn"],
                    reason=form.cleaned_data["reason"],
                )
        elif action == "lift":
            form = ReasonForm(request.POST)
            if form.is_valid():
                cases.case_sanction_lift(regulator=regulator, case=case, reason=form.cleaned_data["text"])
        else:
            raise Http404
    except SanctionRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        messages.error(request, str(REFUSALS.get(refused.code, refused.message)))
        return redirect("frontend:regulator_case", case_id=case.pk)
    except CaseRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        if form is not None and refused.field and refused.field in form.fields:
            form.add_error(refused.field, _refusal(refused))
        else:
            messages.error(request, _refusal(refused))
            return redirect("frontend:regulator_case", case_id=case.pk)
    if form is not None and not form.is_valid():
        case.refresh_from_db()
        return _case_page(request, regulator, case, {action: form}, status=400)
    messages.success(request, _("Done."))
    return redirect("frontend:regulator_case", case_id=case.pk)


# --- The merchant's side ------------------------------------------------------------------------


def _managed_store_ids(user: User) -> list[int]:
    return list(
        StoreMembership.objects.filter(user_id=user.pk, role__in=list(STORE_ROLES_MANAGE)).values_list(
            "store_id", flat=True
        )
    )


@signed_in
@require_GET
def merchant_cases(request: HttpRequest, user: User) -> HttpResponse:
    """The cases about the stores the user owns or manages."""
    store_ids = _managed_store_ids(user)
    if not store_ids:
        raise PermissionDenied
    rows = Case.objects.filter(store_id__in=store_ids).select_related("store").order_by("-created_at")
    sanctions = [s for store in Store.objects.filter(pk__in=store_ids) for s in store_sanctions_in_force(store=store)]
    return render(request, "frontend/regulator/merchant_cases.html", {"cases": rows, "sanctions": sanctions})


@signed_in
@require_http_methods(["GET", "POST"])
def merchant_case(request: HttpRequest, user: User, case_id: int) -> HttpResponse:
    """The notice and its deadline, the decision, and the forms to file a defence or an appeal."""
    case = get_object_or_404(Case.objects.select_related("store", "sanction"), pk=case_id)
    if not access_store(user, case.store, roles=STORE_ROLES_MANAGE):
        raise Http404
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        kind = request.POST.get("kind")
        status = 400
        if form.is_valid():
            try:
                if kind == "defence":
                    cases.case_defence_file(user=user, case=case, text=form.cleaned_data["text"])
                elif kind == "appeal":
                    cases.case_appeal_file(user=user, case=case, text=form.cleaned_data["text"])
                else:
                    raise Http404
            except CaseRefused as refused:
                if refused.status == 404:
                    raise Http404 from refused
                form.add_error("text", _refusal(refused))
                status = refused.status
            else:
                messages.success(request, _("Sent to the regulator."))
                return redirect("frontend:merchant_case", case_id=case.pk)
    today = date.today()
    context = {"case": case, "form": form, "today": today}
    return render(request, "frontend/regulator/merchant_case.html", context, status=status)
