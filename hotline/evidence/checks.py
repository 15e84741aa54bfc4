"""System checks for evidence settings."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.compatibility)
def screenshot_browser(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """hotline.W301: screenshots are switched on but there is no browser to render them with."""
    if not getattr(settings, "HOTLINE_SCREENSHOTS", False):
        return []
    browser = str(getattr(settings, "HOTLINE_BROWSER", "") or "")
    if browser and os.path.isfile(browser) and os.access(browser, os.X_OK):
        return []
    return [Warning(
        f"HOTLINE_SCREENSHOTS is on but no browser can be run ({browser or 'HOTLINE_BROWSER is empty'}): "
        "captures get no screenshot.",
        hint="Install Chromium (apt-get install chromium) or set HOTLINE_BROWSER to its path.",
        id="hotline.W301",
    )]
