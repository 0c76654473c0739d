"""Inspection pages: the regulator's inspection form (stores of their district only), a public
inspection page with the grade, violations and the merchant's reply, and the merchant's
contest-and-reply form (the store's owner or manager only).

Views parse input, check access through accounts.access and call compliance.inspections'
services and selectors. The inspection form is idempotent per rendered form: it carries a
token, and a retried or double-clicked submit updates the inspection that token recorded
instead of recording another.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import STORE_ROLES_MANAGE, access_regulator_store, access_store
from accounts.models import User
from compliance.inspections.lives import LIVES_FILES, inspections_csv, inspections_json, lives_export
from compliance.inspections.models import Inspection, ViolationCode
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.selectors import store_inspections
from compliance.inspections.services import (
    InspectionRefused,
    inspection_can_contest,
    inspection_contest,
    inspection_record,
)
from delivery.models import Store
from frontend.auth import login_required_user


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _code_label(code: ViolationCode) -> str:
    text = code.description_en if _english() and code.description_en else code.description
    marker = _("critical") if code.critical else ""
    points = _("%(points)s pts") % {"points": code.points}
    return f"{code.code} · {text} ({points}{', ' + marker if marker else ''})"


class InspectionForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=36)
    inspected_on = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=gettext_lazy("Type"), choices=Inspection.Kind.choices)
    violations = forms.MultipleChoiceField(
        label=gettext_lazy("Violations found"), required=False, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, max_length=2000, widget=forms.Textarea)

    def __init__(self, *args: Any, codes: list[ViolationCode], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes = {c.code: c for c in codes}
        violations = cast(forms.MultipleChoiceField, self.fields["violations"])
        violations.choices = [(c.code, _code_label(c)) for c in codes]

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"]
        try:
            return uuid.UUID(token).hex
        except ValueError:
            raise forms.ValidationError(_("This form has expired; reload the page.")) from None

    def clean_inspected_on(self) -> Any:
        day = self.cleaned_data["inspected_on"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("An inspection cannot be in the future."))
        return day


@login_required_user
@require_http_methods(["GET", "POST"])
def inspection_new(request: HttpRequest, user: User, store_id: int) -> HttpResponse:
    """A regulator records an inspection of a store in their district; others get 403."""
    store = get_object_or_404(Store, pk=store_id)
    if not access_regulator_store(user, store):
        raise PermissionDenied
    scheme = settings.INSPECTION_SCHEME
    codes = list(ViolationCode.objects.filter(scheme=scheme, active=True))
    status = 200
    if request.method == "POST":
        form = InspectionForm(request.POST, codes=codes)
        if form.is_valid():
            data = form.cleaned_data
            chosen = [form.codes[c] for c in data["violations"]]
            inspection = inspection_record(
                store=store,
                inspected_on=data["inspected_on"],
                scheme=scheme,
                kind=data["kind"],
                inspector=user,
                violations=[
                    ViolationInput(code=c.code, points=c.points, critical=c.critical, description=c.description)
                    for c in chosen
                ],
                # The same form submitted again updates its inspection; the token binds to this
                # regulator and store, so nobody else's token can move an inspection.
                external_ref=f"form:{user.pk}:{store.pk}:{data['token']}",
                contestable=True,
                notes=data["notes"],
            )
            messages.success(request, _("Inspection recorded: grade %(grade)s.") % {"grade": inspection.grade})
            return redirect("frontend:inspection", inspection_id=inspection.pk)
        status = 400
    else:
        form = InspectionForm(
            codes=codes,
            initial={"token": str(uuid.uuid4()), "inspected_on": timezone.localdate(), "kind": Inspection.Kind.ROUTINE},
        )
    context = {"store": store, "form": form, "scheme": scheme}
    return render(request, "frontend/inspections/new.html", context, status=status)


@require_GET
def inspection_page(request: HttpRequest, inspection_id: int) -> HttpResponse:
    """Public: the grade, its state, the violations and the merchant's reply beside them."""
    inspection = get_object_or_404(
        Inspection.objects.select_related("store").prefetch_related("violations"), pk=inspection_id
    )
    user = request.user
    can_reply = (
        isinstance(user, User)
        and inspection_can_contest(inspection)
        and access_store(user, inspection.store, roles=STORE_ROLES_MANAGE)
    )
    context = {"inspection": inspection, "store": inspection.store, "can_reply": can_reply}
    return render(request, "frontend/inspections/detail.html", context)


@login_required_user
@require_GET
def store_inspections_page(request: HttpRequest, user: User, store_id: int) -> HttpResponse:
    """The store's inspection history for its staff, each grade with its state and a way to
    contest the pending ones (owner or manager)."""
    store = get_object_or_404(Store, pk=store_id)
    if not access_store(user, store):
        raise PermissionDenied
    may_reply = access_store(user, store, roles=STORE_ROLES_MANAGE)
    rows = [(i, may_reply and inspection_can_contest(i)) for i in store_inspections(store=store, limit=50)]
    return render(request, "frontend/inspections/store_list.html", {"store": store, "rows": rows})


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label=gettext_lazy("Your reply"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("Shown publicly next to the grade. You can reply once."),
    )


REPLY_REFUSALS = {
    "already_replied": gettext_lazy("This grade already has your reply."),
    "contest_closed": gettext_lazy("The window to contest this grade has closed."),
    "reply_required": gettext_lazy("Write your reply."),
}


@login_required_user
@require_http_methods(["GET", "POST"])
def inspection_reply(request: HttpRequest, user: User, inspection_id: int) -> HttpResponse:
    """The store's owner or manager contests a pending grade with a reply, once."""
    inspection = get_object_or_404(Inspection.objects.select_related("store"), pk=inspection_id)
    if not access_store(user, inspection.store, roles=STORE_ROLES_MANAGE):
        raise PermissionDenied
    status = 200
    form = ReplyForm(request.POST or None)
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                inspection_contest(inspection=inspection, actor=user, reply=form.cleaned_data["reply"])
            except InspectionRefused as refused:
                form.add_error("reply", str(REPLY_REFUSALS.get(refused.code, refused.message)))
                status = 409 if refused.code in {"already_replied", "contest_closed"} else 400
            else:
                messages.success(request, _("Your reply is published next to the grade."))
                return redirect("frontend:inspection", inspection_id=inspection.pk)
    context = {
        "inspection": inspection,
        "store": inspection.store,
        "form": form,
        "open": inspection_can_contest(inspection),
    }
    return render(request, "frontend/inspections/reply.html", context, status=status)


# --- Open data ----------------------------------------------------------------------------------
# Public downloads of final grades (a pending grade may still change). Built per request; a cache
# or a nightly file belongs here once the data outgrows that.


@require_GET
def open_data_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(inspections_json(), content_type="application/json; charset=utf-8")


@require_GET
def open_data_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(inspections_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="inspections.csv"'
    return response


@require_GET
def open_data_lives(request: HttpRequest, name: str) -> HttpResponse:
    """One file of our LIVES feed: businesses, inspections, violations or feed_info (.csv)."""
    filename = f"{name}.csv"
    if filename not in LIVES_FILES:
        raise Http404
    text = lives_export(municipality_name="Mingchu", municipality_url=request.build_absolute_uri("/"))[filename]
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
