"""``{{ notice.last_error|outside_error:user }}``: a delivery error that may quote an answer from outside.

Channels store what a remote server answered as a short printable summary (``HTTP 502: …``, see
:func:`hotline.lib.http.answer_summary`). That text is chosen by whoever runs the endpoint, so only
managers and administrators see it (escaped again here for rows written before the summaries existed;
the template autoescapes the result); everyone else reads "delivery failed (HTTP 502)".
"""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext as _

from hotline.accounts.models import Role, User
from hotline.lib.http import printable_excerpt

register = template.Library()
_STATUS = re.compile(r"\bHTTP (\d{3})\b")
ERROR_READERS = (Role.MANAGER, Role.ADMIN)


@register.filter
def outside_error(text: str, user: object) -> str:
    if not text:
        return ""
    if isinstance(user, User) and user.has_role(*ERROR_READERS):
        return printable_excerpt(text, 300)
    status = _STATUS.search(text)
    if status:
        return _("delivery failed (HTTP %(status)s)") % {"status": status.group(1)}
    return _("delivery failed")
