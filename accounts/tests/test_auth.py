"""Registration, login with throttling, logout, and the `me` API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import DinerProfile, User
from accounts.tests.factories import PASSWORD
from core.identity import identity_hash

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "qingzheng-luyu-42"


def _register(client: Client, **overrides: str) -> Any:
    data = {
        "username": "xiaowang",
        "display_name": "小王",
        "phone": "138 1234 5678",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        **overrides,
    }
    return client.post(reverse("accounts:register"), data)


def test_registration_creates_a_signed_in_diner_with_argon2_and_no_clear_phone(client: Client) -> None:
    response = _register(client)

    assert response.status_code == 302
    user = User.objects.get(username="xiaowang")
    assert DinerProfile.objects.filter(user=user).exists()
    assert user.password.startswith("argon2")
    assert user.phone_masked == "138****5678"
    assert user.phone_hash == identity_hash("13812345678", purpose="phone")
    assert "12345678" not in str(User.objects.filter(pk=user.pk).values().get())
    assert client.get(reverse("frontend:home")).context["user"] == user


def test_registration_errors_sit_by_their_fields_and_keep_what_was_typed(client: Client) -> None:
    response = _register(client, password2="something-else-9", phone="12345")

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-password2"' in html
    assert 'data-testid="error-phone"' in html
    assert 'value="xiaowang"' in html  # nothing the diner typed is lost
    assert not User.objects.filter(username="xiaowang").exists()


def test_registration_refuses_a_taken_username(client: Client, diner: User) -> None:
    response = _register(client, username=diner.username.upper())

    assert response.status_code == 400
    assert 'data-testid="error-username"' in response.content.decode()


def test_login_and_logout(client: Client, diner: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": diner.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("api-me")).json()["username"] == diner.username

    assert client.get(reverse("accounts:logout")).status_code == 405  # logout is POST only
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("api-me")).status_code == 403


def test_wrong_password_is_refused_with_a_message(client: Client, diner: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": diner.username, "password": "nope"})

    assert response.status_code == 200
    assert 'data-testid="form-error"' in response.content.decode()


def test_login_is_throttled_after_five_failures(client: Client, diner: User, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": diner.username, "password": "wrong"})

    # Locked out: even the right password is refused now.
    response = client.post(reverse("accounts:login"), {"username": diner.username, "password": PASSWORD})

    assert response.status_code == 429
    assert 'data-testid="locked-out"' in response.content.decode()


def test_me_api_refuses_anonymous_with_a_stable_error(client: Client) -> None:
    response = client.get(reverse("api-me"))

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"]
    assert body["fields"] == {}


def test_me_api_lists_roles(client: Client, owner: User) -> None:
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")

    body = client.get(reverse("api-me")).json()

    assert body["username"] == owner.username
    assert body["roles"] == ["store_staff"]
