"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url


def language_links(request: HttpRequest) -> dict[str, list[tuple[str, str]]]:
    """The current page in every UI language, for the language switcher."""
    path = request.get_full_path()
    return {"language_links": [(code, translate_url(path, code)) for code, _ in settings.LANGUAGES]}
