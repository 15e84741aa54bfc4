"""Fetching an item's page and media through the safe fetcher. No database: returns a result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hotline.lib.htmlmedia import media_urls
from hotline.lib.http import FetchError, FetchPolicy, FetchResult, Resolver, fetch
from hotline.lib.sniff import media_kind, sniff

# DOMAIN.md §3 "unavailable" reason for each way a fetch can fail.
FETCH_REASONS = {
    "dns_failure": "site_down", "connect_failed": "site_down", "timeout": "temporarily_unavailable",
    "network_error": "temporarily_unavailable", "blocked_address": "unable_to_access",
    "tls_error": "unable_to_access", "too_large": "unable_to_access", "decompression_bomb": "unable_to_access",
    "too_many_redirects": "unable_to_access", "bad_url": "unable_to_access", "bad_scheme": "unable_to_access",
    "bad_port": "unable_to_access", "protocol_error": "unable_to_access", "unsupported_encoding": "unable_to_access",
}
HTTP_REASONS = {401: "password_protected", 402: "premium_account", 403: "unable_to_access", 404: "site_down",
                410: "content_not_found", 451: "unable_to_access", 429: "temporarily_unavailable"}


@dataclass
class PageFailure:
    code: str
    message: str
    reason_code: str
    retryable: bool
    result: FetchResult | None = None


@dataclass
class MediaFetch:
    url: str
    result: FetchResult | None = None
    error: str = ""


@dataclass
class CaptureResult:
    page: FetchResult | None
    page_mime: str = ""
    failure: PageFailure | None = None
    media: list[MediaFetch] = field(default_factory=list)


def _page_failure(result: FetchResult) -> PageFailure | None:
    status = result.status_code
    if status < 400:
        return None
    retryable = status >= 500 or status == 429
    reason = "temporarily_unavailable" if status >= 500 else HTTP_REASONS.get(status, "unable_to_access")
    return PageFailure(f"http_{status}", f"the server answered HTTP {status}", reason, retryable, result)


def _fetch_media(url: str, policy: FetchPolicy, resolver: Resolver | None) -> MediaFetch:
    try:
        result = fetch(url, policy=policy, resolver=resolver)
    except FetchError as exc:
        return MediaFetch(url, error=f"{exc.code}: {exc.message}")
    if result.status_code >= 400:
        return MediaFetch(url, result=result, error=f"HTTP {result.status_code}")
    return MediaFetch(url, result=result)


def capture_url(
    url: str, *, policy: FetchPolicy, resolver: Resolver | None = None, max_media: int = 100, workers: int = 6
) -> CaptureResult:
    """Fetch the page; if it is HTML, fetch every media file it refers to (several at a time)."""
    try:
        page = fetch(url, policy=policy, resolver=resolver)
    except FetchError as exc:
        reason = FETCH_REASONS.get(exc.code, "unable_to_access")
        return CaptureResult(None, failure=PageFailure(exc.code, exc.message, reason, exc.retryable))
    failure = _page_failure(page)
    if failure is not None:
        return CaptureResult(page, sniff(page.body), failure=failure)
    mime = sniff(page.body)
    if media_kind(mime) != "other":
        return CaptureResult(page, mime, media=[MediaFetch(page.final_url, result=page)])
    if mime != "text/html":
        return CaptureResult(page, mime)
    html = page.body.decode("utf-8", errors="replace")
    urls = media_urls(html, page.final_url, limit=max_media)
    if len(urls) <= 1:  # nothing to overlap: no thread started for it
        return CaptureResult(page, mime, media=[_fetch_media(u, policy, resolver) for u in urls])
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        media = list(pool.map(lambda u: _fetch_media(u, policy, resolver), urls))
    return CaptureResult(page, mime, media=media)
