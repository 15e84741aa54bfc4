"""The administrator's pages in the product: users (create, role, deactivate, second-factor reset, unlock) and
API clients (issue, revoke, last use). Administrators only; every change is an audited service call and needs
password + code within `HOTLINE_REAUTH_MAX_AGE_SECONDS` (`recent_auth_required`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from hotline.accounts import services
from hotline.accounts.access import current_user, recent_auth_required, role_required
from hotline.accounts.forms import NewClientForm, NewUserForm, RoleForm, UserFilterForm
from hotline.accounts.models import ApiClient, Lockout, RecoveryCode, Role, TOTPDevice, User
from hotline.audit.services import Actor

admin_only = role_required(Role.ADMIN)


def _refusal(exc: services.AccountError) -> str:
    return {
        "last_admin": _("This is the last active administrator: make another administrator first."),
        "self": _("You cannot deactivate your own account."),
        "inactive": _("This account is deactivated already."),
        "active": _("This account is active."),
        "name_taken": _("A client with this name exists."),
        "revoked": _("This client is revoked already."),
    }.get(exc.code, str(exc))


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(current_user(request))


def _annotated_users() -> Any:
    now = timezone.now()
    return User.objects.annotate(
        enrolled=Exists(TOTPDevice.objects.confirmed().filter(user=OuterRef("pk"))),
        locked=Exists(Lockout.objects.filter(user=OuterRef("pk"), locked_until__gt=now)))


@never_cache
@admin_only
def users(request: HttpRequest) -> HttpResponse:
    form = UserFilterForm(request.GET)
    rows = _annotated_users().order_by("username")
    if form.is_valid():
        if q := form.cleaned_data["q"]:
            rows = rows.filter(Q(username__icontains=q) | Q(email__icontains=q))
        if role := form.cleaned_data["role"]:
            rows = rows.filter(role=role)
        if active := form.cleaned_data["active"]:
            rows = rows.filter(is_active=active == "yes")
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/admin_users.html", {"page": page, "form": form, "query": query.urlencode()})


@never_cache
@admin_only
@recent_auth_required
def user_new(request: HttpRequest) -> HttpResponse:
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if User.objects.filter(username__iexact=form.cleaned_data["username"]).exists():
            form.add_error("username", _("A user with this name exists."))
        else:
            password = services.one_time_password()
            try:
                user = services.create_user(form.cleaned_data["username"], password, form.cleaned_data["role"],
                                            actor=_actor(request), email=form.cleaned_data["email"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return render(request, "accounts/admin_user_created.html", {"subject": user, "password": password})
    return render(request, "accounts/admin_user_new.html", {"form": form})


@never_cache
@admin_only
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subject = get_object_or_404(_annotated_users(), pk=pk)
    guard = Lockout.objects.filter(user=subject).first()
    return render(request, "accounts/admin_user.html", {
        "subject": subject, "role_form": RoleForm(initial={"role": subject.role}),
        "device": services.confirmed_device(subject), "lockout": guard,
        "codes_left": RecoveryCode.objects.unused().filter(user=subject).count(),
        "is_self": subject.pk == current_user(request).pk})


def _user_action(act: Callable[[HttpRequest, User], str]) -> Callable[[HttpRequest, int], HttpResponse]:
    """A POST on one user: run ``act`` (an audited service call), say what happened, back to the user's page."""

    @never_cache
    @require_POST
    @admin_only
    @recent_auth_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        subject = get_object_or_404(User, pk=pk)
        try:
            messages.success(request, act(request, subject))
        except services.AccountError as exc:
            messages.error(request, _refusal(exc))
        except ValueError:
            messages.error(request, _("Choose a role from the list."))
        return redirect("accounts:admin_user", pk=pk)

    view.__name__ = act.__name__
    return view


def _set_role(request: HttpRequest, subject: User) -> str:
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise ValueError("role: not one of the roles")
    services.set_role(subject, form.cleaned_data["role"], actor=_actor(request))
    return _("The role is changed.")


def _deactivate(request: HttpRequest, subject: User) -> str:
    services.deactivate_user(subject, actor=_actor(request))
    return _("The account is deactivated and its sessions have ended.")


def _reactivate(request: HttpRequest, subject: User) -> str:
    services.reactivate_user(subject, actor=_actor(request))
    return _("The account is active again.")


def _reset_second_factor(request: HttpRequest, subject: User) -> str:
    services.reset_second_factor(subject, actor=_actor(request))
    return _("The second factor is removed; the next login sets up a new authenticator app.")


def _unlock(request: HttpRequest, subject: User) -> str:
    was_locked = services.unlock(subject, actor=_actor(request))
    if was_locked:
        return _("The account is unlocked.")
    return _("The account was not locked; failed attempts are cleared.")


user_role = _user_action(_set_role)
user_deactivate = _user_action(_deactivate)
user_reactivate = _user_action(_reactivate)
user_reset_second_factor = _user_action(_reset_second_factor)
user_unlock = _user_action(_unlock)


@never_cache
@admin_only
def api_clients(request: HttpRequest) -> HttpResponse:
    rows = ApiClient.objects.order_by("-is_active", "name")
    return render(request, "accounts/admin_api_clients.html", {"clients": rows, "form": NewClientForm()})


@never_cache
@require_POST
@admin_only
@recent_auth_required
def api_client_new(request: HttpRequest) -> HttpResponse:
    form = NewClientForm(request.POST)
    if form.is_valid():
        try:
            client, token = services.issue_api_client(form.cleaned_data["name"], form.cleaned_data["kind"],
                                                      actor=_actor(request), country=form.cleaned_data["country"])
        except services.AccountError as exc:
            field = str(exc).partition(": ")[0]
            form.add_error(field if field in form.fields else None, _refusal(exc))
        else:
            return render(request, "accounts/admin_api_client_issued.html", {"client": client, "token": token})
    rows = ApiClient.objects.order_by("-is_active", "name")
    return render(request, "accounts/admin_api_clients.html", {"clients": rows, "form": form}, status=400)


@never_cache
@require_POST
@admin_only
@recent_auth_required
def api_client_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(ApiClient, pk=pk)
    try:
        services.revoke_api_client(client, actor=_actor(request))
        messages.success(request, _("The client's token is revoked: it opens nothing any more."))
    except services.AccountError as exc:
        messages.error(request, _refusal(exc))
    return redirect("accounts:admin_api_clients")
