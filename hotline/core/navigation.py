"""The staff menu: sections of (route, label, roles), filtered for the user who is looking.

One line at 1280 px in every language: the day's work as plain links, the other sections as drop-down
menus (``<details>``: keyboard and no JavaScript), the user's own pages in the user menu at the right.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from hotline.accounts.session import second_factor_done

A, S, P, M, D = "analyst", "senior_analyst", "police_liaison", "manager", "admin"
Link = tuple[str, object, frozenset[str]]

# Order is the order on screen. Each page checks its own access; this only hides links a role cannot use
# (test_navigation opens every link for every role that sees it).
SECTIONS: list[tuple[str, object, list[Link]]] = [
    ("work", _("Work"), [
        ("assessment:queue", _("Queue"), frozenset({A, S})),
        ("assessment:items", _("Items"), frozenset({A, S, P, M})),
        ("hashes:pending", _("Confirm hashes"), frozenset({A, S})),
        ("mailintake:mails", _("E-mail intake"), frozenset({S, M})),
    ]),
    ("follow-up", _("Follow-up"), [
        ("incidents:queue", _("Reports without URL"), frozenset({A, S, P})),
        ("selfreferral:queue", _("Self-referrals"), frozenset({A, S})),
        ("routing:attention", _("Routing"), frozenset({A, S, M})),
        ("routing:referrals", _("Referrals"), frozenset({S, P, M})),
        ("cases:list", _("Cases"), frozenset({A, S, P, M})),
        ("takedown:notices", _("Notices"), frozenset({A, S, M})),
        ("takedown:requests", _("Information requests"), frozenset({S, P, M})),
        ("partners:forwards", _("Forwards"), frozenset({A, S, P, M})),
    ]),
    ("knowledge", _("Knowledge"), [
        ("hashes:banks", _("Hash banks"), frozenset({S, M})),
        ("hashes:quarantines", _("Quarantined hashes"), frozenset({S, M})),
        ("hashes:health", _("Bank health"), frozenset({S, M})),
        ("tracing:providers", _("Providers"), frozenset({A, S, M, D})),
        ("partners:directory", _("Partners"), frozenset({A, S, P, M, D})),
    ]),
    ("numbers", _("Numbers"), [
        ("stats:dashboard", _("Statistics"), frozenset({M})),
        ("stats:annual", _("Annual report"), frozenset({M})),
        ("stats:transparency", _("Transparency report"), frozenset({M})),
        ("takedown:scorecards", _("Providers' scorecards"), frozenset({S, M})),
        ("evidence:exposure", _("Viewing exposure"), frozenset({M})),
    ]),
    ("administration", _("Administration"), [
        ("audit:index", _("Audit"), frozenset({M, D})),
        ("retention:plan", _("Retention"), frozenset({M, D})),
        ("iccam:errors", _("ICCAM errors"), frozenset({M, D})),
        ("accounts:admin_users", _("Users"), frozenset({D})),
        ("accounts:admin_api_clients", _("API clients"), frozenset({D})),
    ]),
    ("account", _("Account"), [
        ("accounts:security", _("My security"), frozenset({A, S, P, M, D})),
    ]),
]
# Every link in screen order (the user menu last).
MENU: list[Link] = [link for _key, _label, links in SECTIONS for link in links]


@dataclass(frozen=True)
class Section:
    key: str
    label: object
    links: list[tuple[str, object]]
    current: bool  # the page on screen is one of its links


def staff_menu(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not second_factor_done(request):
        return {"staff_menu": [], "account_menu": None}
    role = getattr(user, "role", "")
    sections: list[Section] = []
    for key, label, links in SECTIONS:
        hrefs = []
        for route, link_label, roles in links:
            if role in roles:
                try:
                    hrefs.append((reverse(route), link_label))
                except NoReverseMatch:
                    continue
        if hrefs:
            current = any(request.path == href or (href != "/" and request.path.startswith(href)) for href, _l in hrefs)
            sections.append(Section(key, label, hrefs, current))
    account = next((s for s in sections if s.key == "account"), None)
    return {"staff_menu": [s for s in sections if s.key != "account"], "account_menu": account}
