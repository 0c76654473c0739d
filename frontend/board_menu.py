"""The menu editor (owners and managers of the store): categories, dishes with their photo,
option groups and options, set meals. Forms parse the input; delivery.services.menu decides and
writes; its refusals are shown next to the field they belong to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import STORE_ROLES_MANAGE
from accounts.models import User
from delivery.models import Allergen, MenuCategory, MenuItem, OptionGroup, SetMeal, Store
from delivery.services import menu as menu_svc
from frontend.board import store_staff_required

MANAGE = store_staff_required(STORE_ROLES_MANAGE)
PHOTO_ACCEPT = "image/jpeg,image/png,image/webp"


class CategoryForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=128)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=128, required=False)


class MenuItemForm(forms.Form):
    category = forms.ModelChoiceField(label=gettext_lazy("Category"), queryset=MenuCategory.objects.none())
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=128)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=128, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    price_cents = forms.IntegerField(label=gettext_lazy("Price (cents)"), min_value=1)
    position = forms.IntegerField(label=gettext_lazy("Position"), min_value=0, required=False, initial=0)
    allergens = forms.MultipleChoiceField(
        label=gettext_lazy("Allergens"), choices=Allergen.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    photo = forms.FileField(
        label=gettext_lazy("Photo (JPEG, PNG or WebP, at most 5 MB)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": PHOTO_ACCEPT}),
    )

    def __init__(self, *args: Any, store: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = store.menu_categories.all()  # type: ignore[attr-defined]


class OptionGroupForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=128)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=128, required=False)
    min_choices = forms.IntegerField(label=gettext_lazy("Pick at least"), min_value=0, initial=0)
    max_choices = forms.IntegerField(label=gettext_lazy("Pick at most"), min_value=1, initial=1)


class OptionForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=128)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=128, required=False)
    price_delta_cents = forms.IntegerField(label=gettext_lazy("Price difference (cents)"), initial=0)


class SetMealForm(forms.Form):
    category = forms.ModelChoiceField(label=gettext_lazy("Category"), queryset=MenuCategory.objects.none())
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=128)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=128, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    price_cents = forms.IntegerField(label=gettext_lazy("Price (cents)"), min_value=1)
    photo = forms.FileField(
        label=gettext_lazy("Photo (JPEG, PNG or WebP, at most 5 MB)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": PHOTO_ACCEPT}),
    )

    def __init__(self, *args: Any, store: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = store.menu_categories.all()  # type: ignore[attr-defined]
        # One quantity box per dish of the store (0 or empty: not in the set).
        for item in store.menu_items.order_by("category__position", "position", "id"):
            self.fields[f"qty_{item.pk}"] = forms.IntegerField(
                label=item.display_name, min_value=0, max_value=20, required=False
            )

    def components(self) -> list[tuple[int, int]]:
        return [
            (int(name.removeprefix("qty_")), value)
            for name, value in self.cleaned_data.items()
            if name.startswith("qty_") and value
        ]


def _refusal_to_form(form: forms.Form, refused: menu_svc.MenuRefused) -> None:
    field = refused.field if refused.field in form.fields else None
    form.add_error(field, refused.message)


def menu_editor_page(
    request: HttpRequest, store: Store, *, category_forms: dict[str, forms.Form] | None = None
) -> HttpResponse:
    from frontend.board import menu_context

    context = menu_context(request, store, manager=True)
    context["new_category_form"] = (category_forms or {}).get("new") or CategoryForm(prefix="new")
    context["categories"] = [
        (
            category,
            (category_forms or {}).get(str(category.pk))
            or CategoryForm(
                prefix=f"c{category.pk}", initial={"name_zh": category.name_zh, "name_en": category.name_en}
            ),
        )
        for category in store.menu_categories.order_by("position", "id")
    ]
    return render(request, "frontend/board/menu.html", context)


@require_POST
@MANAGE
def category_post(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """action=create | rename | up | down | delete (category_id for all but create)."""
    action = request.POST.get("action", "")
    try:
        category_id = int(request.POST.get("category_id") or 0)
    except ValueError:
        category_id = 0
    if action != "create" and not MenuCategory.objects.filter(store=store, pk=category_id).exists():
        raise Http404
    key = "new" if action == "create" else str(category_id)
    form = CategoryForm(request.POST, prefix="new" if action == "create" else f"c{category_id}")
    try:
        if action == "create":
            if not form.is_valid():
                return menu_editor_page(request, store, category_forms={key: form})
            menu_svc.category_create(user=user, store_id=store.pk, **form.cleaned_data)
        elif action == "rename":
            if not form.is_valid():
                return menu_editor_page(request, store, category_forms={key: form})
            menu_svc.category_rename(user=user, store_id=store.pk, category_id=category_id, **form.cleaned_data)
        elif action in ("up", "down"):
            menu_svc.category_move(
                user=user, store_id=store.pk, category_id=category_id, step=-1 if action == "up" else 1
            )
        elif action == "delete":
            menu_svc.category_delete(user=user, store_id=store.pk, category_id=category_id)
        else:
            raise Http404
    except menu_svc.MenuRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        if action in ("delete", "up", "down"):
            # Show the refusal on that category's row, its names as they are.
            category = MenuCategory.objects.filter(store=store, pk=category_id).first()
            if category is None:
                raise Http404 from refused
            prefix = f"c{category_id}"
            form = CategoryForm(
                {f"{prefix}-name_zh": category.name_zh, f"{prefix}-name_en": category.name_en}, prefix=prefix
            )
            form.is_valid()
        _refusal_to_form(form, refused)
        return menu_editor_page(request, store, category_forms={key: form})
    messages.success(request, _("Saved."))
    return redirect("frontend:board_menu", store_id=store.pk)


def _item_initial(item: MenuItem) -> dict[str, Any]:
    return {
        "category": item.category_id,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "description": item.description,
        "price_cents": item.price_cents,
        "position": item.position,
        "allergens": list(item.allergens),
    }


def _item_page(
    request: HttpRequest,
    store: Store,
    item: MenuItem | None,
    form: MenuItemForm,
    *,
    bound: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    """The dish form and, for an existing dish, its option groups and options, each with its own
    form (a refused one comes back bound, with its errors)."""
    bound = bound or {}
    groups = []
    if item is not None:
        for group in item.option_groups.prefetch_related("options"):
            options = [
                (
                    option,
                    bound.get(f"o{option.pk}")
                    or OptionForm(
                        prefix=f"o{option.pk}",
                        initial={
                            "name_zh": option.name_zh,
                            "name_en": option.name_en,
                            "price_delta_cents": option.price_delta_cents,
                        },
                    ),
                )
                for option in group.options.all()
            ]
            groups.append(
                {
                    "group": group,
                    "form": bound.get(f"g{group.pk}")
                    or OptionGroupForm(
                        prefix=f"g{group.pk}",
                        initial={
                            "name_zh": group.name_zh,
                            "name_en": group.name_en,
                            "min_choices": group.min_choices,
                            "max_choices": group.max_choices,
                        },
                    ),
                    "options": options,
                    "new_option": bound.get(f"newo{group.pk}") or OptionForm(prefix=f"newo{group.pk}"),
                }
            )
    return render(
        request,
        "frontend/board/menu_item.html",
        {
            "store": store,
            "form": form,
            "item": item,
            "groups": groups,
            "new_group": bound.get("newg") or OptionGroupForm(prefix="newg"),
            "manager": True,
        },
    )


@require_http_methods(["GET", "POST"])
@MANAGE
def item_edit(request: HttpRequest, user: User, store: Store, item_id: int | None = None) -> HttpResponse:
    """A dish's names, description, price, category, allergens and photo; its options below."""
    item = MenuItem.objects.filter(store=store, pk=item_id).first() if item_id else None
    if item_id and item is None:
        raise Http404
    if request.method != "POST":
        form = MenuItemForm(initial=_item_initial(item) if item else {}, store=store)
        return _item_page(request, store, item, form)
    form = MenuItemForm(request.POST, request.FILES, store=store)
    if form.is_valid():
        data = form.cleaned_data
        photo = data["photo"] or None
        try:
            saved = menu_svc.item_save(
                user=user,
                store_id=store.pk,
                item_id=item.pk if item else None,
                fields=menu_svc.ItemFields(
                    category_id=data["category"].pk,
                    name_zh=data["name_zh"],
                    name_en=data["name_en"],
                    description=data["description"],
                    price_cents=data["price_cents"],
                    position=data["position"] or 0,
                    allergens=data["allergens"],
                ),
                photo=photo,
                remove_photo=data["photo"] is False,
            )
        except menu_svc.MenuRefused as refused:
            if refused.status == 404:
                raise Http404 from refused
            _refusal_to_form(form, refused)
        else:
            messages.success(request, _("Saved."))
            if item is None:
                return redirect("frontend:board_menu_item", store_id=store.pk, item_id=saved.pk)
            return redirect("frontend:board_menu", store_id=store.pk)
    return _item_page(request, store, item, form)


def _row_id(request: HttpRequest, field: str) -> int | None:
    try:
        return int(request.POST.get(field) or 0) or None
    except ValueError:
        raise Http404 from None


def _item_part_post(
    request: HttpRequest,
    store: Store,
    item: MenuItem,
    *,
    key: str,
    form_class: type[forms.Form],
    row_id: int | None,
    save: Callable[[dict[str, Any]], object],
    delete: Callable[[int], object],
) -> HttpResponse:
    """The item page's nested forms (option groups, options): action=save (row_id to change one,
    none to add) | delete. An invalid form or a refusal shows the item page again with that
    form's errors next to its fields."""
    action = request.POST.get("action", "save")
    form = form_class(request.POST, prefix=key)
    try:
        if action == "delete" and row_id:
            delete(row_id)
        elif action == "save":
            if form.is_valid():
                save(form.cleaned_data)
        else:
            raise Http404
    except menu_svc.MenuRefused as refused:
        if refused.status == 404:
            raise Http404 from refused
        _refusal_to_form(form, refused)
    if action == "save" and form.errors:
        item_form = MenuItemForm(initial=_item_initial(item), store=store)
        return _item_page(request, store, item, item_form, bound={key: form})
    messages.success(request, _("Saved."))
    return redirect("frontend:board_menu_item", store_id=store.pk, item_id=item.pk)


@require_POST
@MANAGE
def option_group_post(request: HttpRequest, user: User, store: Store, item_id: int) -> HttpResponse:
    item = MenuItem.objects.filter(store=store, pk=item_id).first()
    if item is None:
        raise Http404
    group_id = _row_id(request, "group_id")
    return _item_part_post(
        request,
        store,
        item,
        key=f"g{group_id}" if group_id else "newg",
        form_class=OptionGroupForm,
        row_id=group_id,
        save=lambda data: menu_svc.option_group_save(
            user=user, store_id=store.pk, item_id=item.pk, group_id=group_id, **data
        ),
        delete=lambda pk: menu_svc.option_group_delete(user=user, store_id=store.pk, group_id=pk),
    )


@require_POST
@MANAGE
def option_post(request: HttpRequest, user: User, store: Store, group_id: int) -> HttpResponse:
    group = OptionGroup.objects.filter(item__store=store, pk=group_id).select_related("item").first()
    if group is None:
        raise Http404
    option_id = _row_id(request, "option_id")
    return _item_part_post(
        request,
        store,
        group.item,
        key=f"o{option_id}" if option_id else f"newo{group.pk}",
        form_class=OptionForm,
        row_id=option_id,
        save=lambda data: menu_svc.option_save(
            user=user, store_id=store.pk, group_id=group.pk, option_id=option_id, **data
        ),
        delete=lambda pk: menu_svc.option_delete(user=user, store_id=store.pk, option_id=pk),
    )


@require_http_methods(["GET", "POST"])
@MANAGE
def set_meal_edit(request: HttpRequest, user: User, store: Store, set_meal_id: int | None = None) -> HttpResponse:
    """A set meal: its names, price, category and how many of each dish (delete with action)."""
    meal = SetMeal.objects.filter(store=store, pk=set_meal_id).first() if set_meal_id else None
    if set_meal_id and meal is None:
        raise Http404
    if request.method == "POST" and request.POST.get("action") == "delete" and meal is not None:
        try:
            menu_svc.set_meal_delete(user=user, store_id=store.pk, set_meal_id=meal.pk)
        except menu_svc.MenuRefused as refused:
            raise Http404 from refused
        messages.success(request, _("Deleted."))
        return redirect("frontend:board_menu", store_id=store.pk)
    initial: dict[str, Any] = {}
    if meal is not None:
        initial = {
            "category": meal.category_id,
            "name_zh": meal.name_zh,
            "name_en": meal.name_en,
            "description": meal.description,
            "price_cents": meal.price_cents,
            **{f"qty_{c.item_id}": c.quantity for c in meal.components.all()},
        }
    if request.method != "POST":
        form = SetMealForm(initial=initial, store=store)
        return render(request, "frontend/board/set_meal.html", {"store": store, "form": form, "meal": meal})
    form = SetMealForm(request.POST, request.FILES, store=store)
    if form.is_valid():
        data = form.cleaned_data
        try:
            menu_svc.set_meal_save(
                user=user,
                store_id=store.pk,
                set_meal_id=meal.pk if meal else None,
                category_id=data["category"].pk,
                name_zh=data["name_zh"],
                name_en=data["name_en"],
                description=data["description"],
                price_cents=data["price_cents"],
                components=form.components(),
                photo=data["photo"] or None,
            )
        except menu_svc.MenuRefused as refused:
            if refused.status == 404:
                raise Http404 from refused
            _refusal_to_form(form, refused)
        else:
            messages.success(request, _("Saved."))
            return redirect("frontend:board_menu", store_id=store.pk)
    return render(request, "frontend/board/set_meal.html", {"store": store, "form": form, "meal": meal})
