from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import DinerRegistrationForm
from accounts.services import diner_register


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Diner registration; on success the diner is signed in."""
    if request.user.is_authenticated:
        return redirect("frontend:home")
    form = DinerRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = diner_register(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
            phone=form.cleaned_data["phone"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("frontend:home")
    return render(request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200)
