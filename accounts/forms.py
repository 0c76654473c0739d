from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.models import User

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


class DinerRegistrationForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=64, required=False)
    phone = forms.CharField(
        label=_("Mobile number"), max_length=20, required=False, help_text=_("Mainland China mobile, 11 digits.")
    )
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, strip=False)

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That username is taken."), code="username_taken")
        return username

    def clean_phone(self) -> str:
        phone = re.sub(r"[\s-]", "", self.cleaned_data.get("phone", ""))
        if phone and not PHONE_RE.match(phone):
            raise forms.ValidationError(_("Enter an 11-digit mainland mobile number."), code="phone_invalid")
        return phone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", forms.ValidationError(_("The passwords differ."), code="password_mismatch"))
        if p1:
            try:
                password_validation.validate_password(p1, User(username=cleaned.get("username", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
