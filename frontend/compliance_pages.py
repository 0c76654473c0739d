"""Compliance pages: the merchant's compliance page and the operator's admission page.

- Merchant (`access_store`; submitting needs owner or manager): the store's licences and its
  staff's health certificates with expiry warnings, the form to submit a new or changed licence
  with its scan, and the open flags about the store or its entity with what to do about each.
- Operator (`access_operator`): stores waiting for admission or for a licence review, with their
  licences, the 7-day review deadline and what still blocks them; verify or reject a licence,
  admit a store.

Views parse input, check access and call compliance's selectors and services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import STORE_ROLES_ALL, STORE_ROLES_MANAGE, access_operator, access_store
from accounts.models import User
from compliance.models import Licence
from compliance.selectors import (
    paper_status,
    store_licences,
    store_open_flags,
    store_registration,
    store_staff_certificates,
    stores_pending_review,
)
from compliance.services.licences import LicenceRefused, licence_reject, licence_submit, licence_verify
from delivery.models import Store
from delivery.services.stores import StoreRefused, admission_blockers, store_admit
from frontend.auth import login_required_user

# What a merchant can do about each flag.
FLAG_ADVICE = {
    "LICENCE_MISSING": gettext_lazy("Upload your food-business licence (and your business licence) below."),
    "LICENCE_EXPIRED": gettext_lazy("Your food-business licence has expired: renew it and upload the new one."),
    "LICENCE_EXPIRING": gettext_lazy("Your food-business licence ends soon: renew it before it expires."),
    "LICENCE_INVALID": gettext_lazy("A licence or credit-code number looks wrong: check it and submit it again."),
    "LICENCE_SHARED": gettext_lazy("Your licence number is also used by another store: each store needs its own."),
    "ADDRESS_SHARED": gettext_lazy(
        "Another store is registered at your address: tell us if this is a food court, or correct your address."
    ),
    "PIN_MISMATCH": gettext_lazy("Your map pin is far from your address: move the pin or correct the address."),
    "REREGISTRATION": gettext_lazy(
        "Your store matches a sanctioned merchant: a regulator will review it; keep your papers ready."
    ),
    "CREDIT_LISTED": gettext_lazy("Your company is on a public credit list: contact the market regulator."),
    "HEALTH_CERT_MISSING": gettext_lazy("Some staff have no valid health certificate: renew them before they cook."),
    "LOW_RATING": gettext_lazy("Diners rate you low lately: read their reviews and reply to them."),
    "COMPLAINT_SPIKE": gettext_lazy("Many complaints this week: answer each of them within its deadline."),
    "FOOD_SAFETY_COMPLAINT": gettext_lazy(
        "A diner reported a food-safety problem: answer the complaint; a regulator may inspect."
    ),
    "INSPECTION_FAILED": gettext_lazy("Your latest inspection failed: fix the violations and ask for a follow-up."),
    "INSPECTION_OVERDUE": gettext_lazy("An inspection is due: expect a visit from the regulator."),
}


class LicenceForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Licence"), choices=Licence.Kind.choices)
    number = forms.CharField(label=gettext_lazy("Number"), max_length=32)
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from"), required=False, widget=forms.DateInput({"type": "date"})
    )
    valid_to = forms.DateField(label=gettext_lazy("Valid to"), required=False, widget=forms.DateInput({"type": "date"}))
    scan = forms.FileField(
        label=gettext_lazy("Scan (PDF, JPEG or PNG)"),
        required=False,
        widget=forms.ClearableFileInput({"accept": "application/pdf,image/jpeg,image/png"}),
    )


def _papers(store: Store) -> dict[str, Any]:
    today = timezone.localdate()
    licences = [{"licence": lic, "status": paper_status(lic.valid_to, today=today)} for lic in store_licences(store)]
    staff = []
    for member in store_staff_certificates(store):
        certificates = sorted(member.health_certificates.all(), key=lambda c: c.valid_to, reverse=True)
        current = certificates[0] if certificates else None
        staff.append(
            {
                "member": member,
                "certificate": current,
                "status": paper_status(current.valid_to, today=today) if current else None,
            }
        )
    flags = [{"flag": flag, "advice": FLAG_ADVICE.get(flag.code, "")} for flag in store_open_flags(store)]
    return {"licences": licences, "staff": staff, "flags": flags}


@login_required_user
@require_http_methods(["GET", "POST"])
def merchant_compliance(request: HttpRequest, user: User, store_id: int) -> HttpResponse:
    """The store's papers, their expiries, its open flags; owners and managers submit licences."""
    store = get_object_or_404(Store, pk=store_id)
    if not access_store(user, store, roles=STORE_ROLES_ALL):
        raise Http404
    may_submit = access_store(user, store, roles=STORE_ROLES_MANAGE)
    form = LicenceForm()
    if request.method == "POST":
        if not may_submit:
            raise PermissionDenied
        form = LicenceForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                licence_submit(
                    user=user,
                    store=store,
                    kind=data["kind"],
                    number=data["number"],
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                    scan=data["scan"],
                )
            except LicenceRefused as refused:
                form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            else:
                messages.success(request, _("Licence submitted: an operator reviews it within 7 days."))
                return redirect("frontend:merchant_compliance", store_id=store.pk)
    context = {
        "store": store,
        "registration": store_registration(store),
        "form": form,
        "may_submit": may_submit,
        **_papers(store),
    }
    return render(request, "frontend/compliance/merchant_compliance.html", context, status=400 if form.errors else 200)


def _operator(user: User) -> None:
    if not access_operator(user):
        raise PermissionDenied


@login_required_user
def operator_admission(request: HttpRequest, user: User) -> HttpResponse:
    """Stores under review and live stores with a licence waiting, soonest deadline first."""
    _operator(user)
    now = timezone.now()
    rows = []
    for store in stores_pending_review():
        licences = list(store_licences(store))
        due = [lic.review_due_at for lic in licences if lic.review_due_at and lic.verification == "pending"]
        rows.append(
            {
                "store": store,
                "licences": licences,
                "due": min(due) if due else None,
                "overdue": bool(due) and min(due) < now,
                "blockers": admission_blockers(store) if store.status == Store.Status.PENDING_REVIEW else [],
            }
        )
    rows.sort(key=lambda row: (row["due"] is None, row["due"] or now))
    return render(request, "frontend/compliance/operator_admission.html", {"rows": rows, "now": now})


@login_required_user
@require_POST
def operator_licence_review(request: HttpRequest, user: User, licence_id: int) -> HttpResponse:
    _operator(user)
    licence = get_object_or_404(Licence, pk=licence_id)
    decision = request.POST.get("decision")
    try:
        if decision == "verify":
            licence_verify(operator=user, licence=licence)
            messages.success(request, _("Licence %(number)s verified.") % {"number": licence.number})
        elif decision == "reject":
            licence_reject(operator=user, licence=licence, note=request.POST.get("note", ""))
            messages.success(request, _("Licence %(number)s rejected.") % {"number": licence.number})
        else:
            messages.error(request, _("Choose verify or reject."))
    except LicenceRefused as refused:
        messages.error(request, refused.message)
    return redirect("frontend:operator_admission")


@login_required_user
@require_POST
def operator_store_admit(request: HttpRequest, user: User, store_id: int) -> HttpResponse:
    _operator(user)
    store = get_object_or_404(Store, pk=store_id)
    try:
        store_admit(operator=user, store=store)
    except StoreRefused as refused:
        messages.error(request, " ".join([refused.message, *refused.reasons]))
    else:
        messages.success(request, _("%(store)s is live.") % {"store": store.display_name})
    return redirect("frontend:operator_admission")
