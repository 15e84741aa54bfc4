"""The staff menu: one table of (route, label, roles), filtered for the user who is looking."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from hotline.accounts.session import second_factor_done

A, S, P, M, D = "analyst", "senior_analyst", "police_liaison", "manager", "admin"

# Order is the order on screen. Each page checks its own access; this only hides links a role cannot use.
MENU: list[tuple[str, object, frozenset[str]]] = [
    ("assessment:queue", _("Queue"), frozenset({A, S})),
    ("assessment:items", _("Items"), frozenset({A, S, P, M})),
    ("hashes:pending", _("Confirm hashes"), frozenset({A, S})),
    ("routing:attention", _("Routing"), frozenset({A, S, M})),
    ("routing:referrals", _("Referrals"), frozenset({S, P, M})),
    ("cases:list", _("Cases"), frozenset({A, S, P, M})),
    ("takedown:notices", _("Notices"), frozenset({A, S, M})),
    ("takedown:requests", _("Information requests"), frozenset({S, P, M})),
    ("takedown:scorecards", _("Providers' scorecards"), frozenset({S, M})),
    ("partners:forwards", _("Forwards"), frozenset({A, S, P, M})),
    ("partners:directory", _("Partners"), frozenset({A, S, P, M, D})),
    ("tracing:providers", _("Providers"), frozenset({A, S, M, D})),
    ("hashes:banks", _("Hash banks"), frozenset({S, M})),
    ("mailintake:mails", _("E-mail intake"), frozenset({S, M})),
    ("stats:dashboard", _("Statistics"), frozenset({M})),
    ("evidence:exposure", _("Viewing exposure"), frozenset({M})),
    ("retention:plan", _("Retention"), frozenset({M, D})),
    ("audit:index", _("Audit"), frozenset({M, D})),
    ("accounts:security", _("My security"), frozenset({A, S, P, M, D})),
    ("admin:index", _("Administration"), frozenset({D})),
]


def staff_menu(request: HttpRequest) -> dict[str, list[tuple[str, object]]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not second_factor_done(request):
        return {"staff_menu": []}
    role = getattr(user, "role", "")
    links = []
    for route, label, roles in MENU:
        if role in roles:
            try:
                links.append((reverse(route), label))
            except NoReverseMatch:
                continue
    return {"staff_menu": links}
