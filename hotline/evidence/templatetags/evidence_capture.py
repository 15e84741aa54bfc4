"""``{% capture_context capture as view %}``: what the capture partial may show to this user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from hotline.evidence.models import Capture
from hotline.evidence.views import MEDIA_VIEWERS, revealed_id

register = template.Library()


@dataclass(frozen=True)
class CaptureView:
    capture: Capture | None
    # Analysts only: the page's text, links and screenshot (like media, they may show abuse).
    shows_content: bool
    screenshot_revealed: bool

    @property
    def links(self) -> list[str]:
        return self.capture.link_list if self.capture and self.shows_content else []


@register.simple_tag(takes_context=True)
def capture_context(context: Any, capture: Capture | None) -> CaptureView:
    request = context.get("request")
    user = getattr(request, "user", None)
    shows = bool(user is not None and user.is_authenticated and user.has_role(*MEDIA_VIEWERS))
    revealed = bool(capture and shows and request is not None
                    and revealed_id(request, "screenshot") == capture.pk)
    return CaptureView(capture, shows, revealed)
