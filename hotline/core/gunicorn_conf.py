"""gunicorn settings for the web service: ``gunicorn -c python:hotline.core.gunicorn_conf hotline.wsgi:application``.

The access log must not become a list of credentials and references. Query strings carry the provider
respond link's token (``/takedown/respond/?t=…``) and the reporter's status code
(``/report/status/?code=…``); the Referer repeats them (a same-origin page sends its own address);
``/api/v1/reports/<reference>`` names a report by the reporter's reference. So each access line has
the method, the path with those segments redacted, never a query string, never the Referer, and the
whole line then goes through :class:`hotline.lib.logredact.RedactSecrets` (API tokens, e-mail
addresses), as does the error log.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from hotline.lib.logredact import REDACTED, RedactSecrets, redact_text

# Read by gunicorn (names it does not know, such as the class below, are ignored).
logger_class = "hotline.core.gunicorn_conf.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(a)s" %(L)s'

# Path segments that are themselves references a reporter or client holds.
_SECRET_SEGMENTS = (re.compile(r"^(/api/v1/reports/)[^/]+"),)
# Request headers an operator may want in a custom format; every other header and environ atom is dropped.
_KEPT_HEADERS = ("{user-agent}i", "{host}i", "{x-forwarded-for}i", "{x-request-id}i")


def redact_path(path: str) -> str:
    """``path`` (never with its query string) with reference segments and known secrets redacted."""
    for pattern in _SECRET_SEGMENTS:
        path = pattern.sub(rf"\g<1>{REDACTED}", path)
    return redact_text(path)


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger with the request line, path and headers stripped of secrets."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactSecrets) for f in log.filters):
                log.addFilter(RedactSecrets())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = redact_path(str(environ.get("PATH_INFO") or "/"))
        kept = {key: atoms[key] for key in _KEPT_HEADERS if key in atoms}
        atoms = {key: value for key, value in atoms.items() if not key.startswith("{")} | kept
        atoms.update(U=path, q="", f="-", r=f"{atoms.get('m') or '-'} {path} {atoms.get('H') or '-'}")
        return atoms

