"""Complaints in the web app: the diner files one from the order page and follows its progress and
deadlines there (`{% order_complaints order %}`); the restaurant's staff see their complaints
and acknowledge or propose a solution; the diner closes it. Views parse, check access, and call
one service from `compliance.services.complaints`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import access_operator
from accounts.models import User
from compliance.cases.models import Case
from compliance.models import Complaint
from compliance.services import complaints as service
from compliance.services.complaints import ComplaintRefused
from delivery.models import StoreMembership
from frontend.diner import MultipleFileField, MultipleFileInput, _own_order, diner_required
from frontend.regulator_pages import signed_in

REFUSALS: dict[str, Any] = {
    "invalid_photo": gettext_lazy("Photos must be JPEG, PNG or WebP images of at most 5 MB each."),
    "too_many_photos": gettext_lazy("Add at most 3 photos."),
    "text_required": gettext_lazy("Say what happened."),
    "text_too_long": gettext_lazy("This is too long."),
    "invalid_category": gettext_lazy("Choose what the complaint is about."),
    "complaint_state_conflict": gettext_lazy("The complaint has moved on; this action no longer applies."),
}


class ComplaintForm(forms.Form):
    category = forms.ChoiceField(
        label=gettext_lazy("What is it about?"),
        choices=(("", gettext_lazy("Choose")), *Complaint.Category.choices),
        widget=forms.Select(attrs={"data-testid": "complaint-category"}),
    )
    text = forms.CharField(
        label=gettext_lazy("What happened"),
        max_length=service.TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "data-testid": "complaint-text"}),
    )
    photos = MultipleFileField(
        label=gettext_lazy("Photos"),
        required=False,
        help_text=gettext_lazy("Up to 3 photos (JPEG, PNG or WebP, at most 5 MB each)."),
        widget=MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp", "data-testid": "complaint-photos"}
        ),
    )


@diner_required
@require_http_methods(["GET", "POST"])
def order_complaint(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """File a complaint about one of the diner's orders. A food-safety complaint also reaches
    the regulators. Refusals show next to their field (status 400)."""
    order = _own_order(diner, number)
    status = 200
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            try:
                service.complaint_file(
                    diner=diner,
                    order=order,
                    category=form.cleaned_data["category"],
                    text=form.cleaned_data["text"],
                    photos=form.cleaned_data["photos"],
                )
            except ComplaintRefused as refused:
                if refused.status == 404:
                    raise Http404 from refused
                form.add_error(
                    refused.field if refused.field in form.fields else None,
                    str(REFUSALS.get(refused.code, refused.message)),
                )
            else:
                messages.success(
                    request, _("Your complaint has been sent. The restaurant must acknowledge it within an hour.")
                )
                return redirect("frontend:order", number=order.number)
    else:
        form = ComplaintForm()
    return render(request, "frontend/complaints/file.html", {"order": order, "form": form}, status=status)


@signed_in
@require_POST
def complaint_close_view(request: HttpRequest, user: User, complaint_id: int) -> HttpResponse:
    complaint = get_object_or_404(Complaint.objects.select_related("order"), pk=complaint_id)
    try:
        service.complaint_close(user=user, complaint=complaint)
    except ComplaintRefused as refused:
        raise Http404 from refused
    messages.success(request, _("The complaint is closed."))
    if complaint.order is not None and complaint.diner_id == user.pk:
        return redirect("frontend:order", number=complaint.order.number)
    return redirect("frontend:home")


def _staff_store_ids(user: User) -> list[int]:
    return list(StoreMembership.objects.filter(user_id=user.pk).values_list("store_id", flat=True))


@signed_in
@require_GET
def store_complaints(request: HttpRequest, user: User) -> HttpResponse:
    """The complaints about the user's stores, open first, with their deadlines."""
    store_ids = _staff_store_ids(user)
    if not store_ids:
        raise PermissionDenied
    rows = (
        Complaint.objects.filter(store_id__in=store_ids)
        .select_related("store", "order")
        .prefetch_related("photos")
        .order_by("status", "-filed_at")[:200]
    )
    return render(request, "frontend/complaints/store_list.html", {"complaints": rows, "now": timezone.now()})


@signed_in
@require_POST
def store_complaint_act(request: HttpRequest, user: User, complaint_id: int) -> HttpResponse:
    """Acknowledge, or propose a solution (field `solution`)."""
    complaint = get_object_or_404(Complaint.objects.select_related("store"), pk=complaint_id)
    try:
        if request.POST.get("action") == "acknowledge":
            service.complaint_acknowledge(user=user, complaint=complaint)
        else:
            service.complaint_solution_propose(
                user=user, complaint=complaint, solution=request.POST.get("solution", "")
            )
    except ComplaintRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        messages.error(request, str(REFUSALS.get(refused.code, refused.message)))
    return redirect("frontend:store_complaints")


OPERATOR_PAGE_SIZE = 50


@signed_in
@require_GET
def operator_complaints(request: HttpRequest, user: User) -> HttpResponse:
    """Platform operators: complaints that breached a deadline and are not closed, oldest first,
    with the deadlines they missed; each can be closed or referred to the regulators."""
    if not access_operator(user):
        raise PermissionDenied
    escalated = (
        Complaint.objects.exclude(status=Complaint.Status.CLOSED)
        .exclude(escalations=[])
        .select_related("store", "order")
        .annotate(open_case=Exists(Case.objects.filter(complaint_id=OuterRef("pk")).exclude(status=Case.Status.CLOSED)))
        .order_by("filed_at", "pk")
    )
    page = Paginator(escalated, OPERATOR_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "frontend/complaints/operator_list.html", {"page": page, "complaints": page.object_list})


@signed_in
@require_POST
def operator_complaint_act(request: HttpRequest, user: User, complaint_id: int) -> HttpResponse:
    """Close the complaint (`action=close`) or refer it to the regulators (`action=refer`)."""
    if not access_operator(user):
        raise PermissionDenied
    complaint = get_object_or_404(Complaint.objects.select_related("store"), pk=complaint_id)
    try:
        if request.POST.get("action") == "refer":
            service.complaint_refer(operator=user, complaint=complaint)
            messages.success(request, _("The complaint is with the regulators."))
        else:
            service.complaint_close(user=user, complaint=complaint)
            messages.success(request, _("The complaint is closed."))
    except ComplaintRefused as refused:
        raise Http404 from refused
    return redirect("frontend:operator_complaints")
