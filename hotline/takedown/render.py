"""Turning a notice row into the message its channel sends: text from per-language templates, XARF documents.

Built from rows only, so every attempt (including a resend after a crash) produces the same message.
"""

from __future__ import annotations

from types import EllipsisType

from django.conf import settings
from django.db.models import QuerySet
from django.template.loader import select_template

from hotline.lib import prepared
from hotline.takedown import links, xarf
from hotline.takedown.channels import OutboundMessage
from hotline.takedown.models import ContactPolicy, Notice, NoticeItem, NoticeKind

LANGUAGES = ("en", "nl", "fr", "de")


def message_id(notice: Notice) -> str:
    return f"<notice-{notice.key}@{settings.HOTLINE_MESSAGE_DOMAIN}>"


def language_of(code: str) -> str:
    base = (code or "en").lower().split("-")[0]
    return base if base in LANGUAGES else "en"


def live_lines(notice: Notice) -> list[NoticeItem]:
    return live_lines_of([notice])[notice.pk]


def live_lines_of(notices: list[Notice]) -> dict[int, list[NoticeItem]]:
    """The live lines of several notices in one query, by notice (items in order)."""
    found: dict[int, list[NoticeItem]] = {notice.pk: [] for notice in notices}
    by_pk = {notice.pk: notice for notice in notices}
    if not by_pk:
        return found
    for line in prepared.instances("takedown.live_lines", _live_lines, notices=prepared.padded(list(by_pk))):
        line.notice = by_pk[line.notice_id]
        found[line.notice_id].append(line)
    return found


def _live_lines(notices: list[int]) -> QuerySet[NoticeItem]:
    """The live lines of these notices with their items, takedowns and traces (compiled once per power of two of
    the notices: ``live_lines_of``)."""
    return NoticeItem.objects.filter(notice__in=notices, dropped_at__isnull=True) \
        .select_related("item", "takedown", "trace").order_by("notice_id", "item_id")


def contact_policy(notice: Notice) -> ContactPolicy | None:
    return ContactPolicy.objects.filter(contact_id=notice.contact_id).first()


def contact_policies(notices: list[Notice]) -> dict[int, ContactPolicy]:
    """The policies of the notices' contacts, by contact id, in one query compiled once per process (per power of
    two of the contacts)."""
    if not notices:
        return {}
    return {p.contact_id: p for p in prepared.instances(
        "takedown.contact_policies", lambda contacts: ContactPolicy.objects.filter(contact_id__in=contacts),
        contacts=prepared.padded(sorted({n.contact_id for n in notices})))}


def render_notice(notice: Notice, lines: list[NoticeItem] | None = None, *,
                  policy: ContactPolicy | EllipsisType | None = ...,
                  facts: xarf.Facts | None = None) -> OutboundMessage:
    """The message for ``notice`` with its live ``lines``, its contact's ``policy`` and what the XARF documents
    say of the items' files (``facts``): each read here when not given."""
    lines = live_lines(notice) if lines is None else lines
    context = _context(notice, lines)
    folders = _template_folders(notice, contact_policy(notice) if isinstance(policy, EllipsisType) else policy)
    subject = select_template([f"takedown/notices/{f}/subject.txt" for f in folders]).render(context)
    body = select_template([f"takedown/notices/{f}/body.txt" for f in folders]).render(context)
    return OutboundMessage(
        key=notice.key, message_id=message_id(notice), reference=notice.reference, recipient=notice.recipient,
        subject=" ".join(subject.split()), body=body.strip() + "\n", language=notice.language,
        xarf=xarf.documents_for(notice, lines, facts), respond_url=str(context["respond_url"]))


def _template_folders(notice: Notice, policy: ContactPolicy | None) -> list[str]:
    custom = [policy.template] if policy is not None and policy.template else []
    return [*custom, language_of(notice.language), "en"]


def _context(notice: Notice, lines: list[NoticeItem]) -> dict[str, object]:
    first = min((line.takedown.first_notice_at for line in lines if line.takedown.first_notice_at), default=None)
    repeat = max((line.takedown.repeats for line in lines), default=0) + 1
    return {
        "org": settings.HOTLINE_ORGANISATION, "from_email": settings.DEFAULT_FROM_EMAIL,
        "contact_name": notice.contact.name, "ref": notice.reference, "kind": notice.kind, "role": notice.role,
        "repeat": repeat if notice.kind == NoticeKind.REPEAT else 0,
        "first_notice_at": f"{first:%Y-%m-%d %H:%M} UTC" if first else "",
        "legal_basis": settings.HOTLINE_TAKEDOWN_LEGAL_BASIS,
        "items": [_item(notice, line) for line in lines],
        "respond_url": links.respond_url("notice", str(notice.key), notice.created_at),
        "link_expires": f"{links.expires_at(notice.created_at):%Y-%m-%d}",
    }


def _item(notice: Notice, line: NoticeItem) -> dict[str, str]:
    return {"url": line.url, "ref": f"{notice.reference}/{line.item_id}", "ip": line.ip,
            "traced_at": f"{line.traced_at:%Y-%m-%d %H:%M}" if line.traced_at else ""}
