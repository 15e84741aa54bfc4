"""Is the reported content still there? Decided by content, through the safe fetcher. No database.

The content is there while a captured media file is still served, with its captured SHA-256, at its
captured URL (usually one fetch), or while the page embeds a file with a captured hash under a new name.
404/410/451/403/401, a page without the captured media, another file at the URL, or a name that no longer
resolves are misses; timeouts, 5xx, 429 and connection failures are transient and say nothing. An item
with nothing captured is judged by its page's status alone.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hotline.lib.htmlmedia import media_urls
from hotline.lib.http import FetchError, FetchPolicy, FetchResult, Resolver, fetch
from hotline.lib.pools import kept_map
from hotline.lib.sniff import media_kind, sniff

HIT, MISS, TRANSIENT = "hit", "miss", "transient"
GONE_STATUSES = frozenset({401, 403, 404, 410, 451})
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# A name that does not resolve (any more), or now points somewhere private: gone from the public web.
GONE_FETCH_CODES = frozenset({"blocked_address"})


@dataclass(frozen=True)
class Target:
    """One item to check: its URL and what was captured there (media URL -> SHA-256)."""

    key: int
    url: str
    media: dict[str, str] = field(default_factory=dict)

    @property
    def hashes(self) -> frozenset[str]:
        return frozenset(self.media.values())


@dataclass(frozen=True)
class CheckResult:
    outcome: str  # HIT | MISS | TRANSIENT
    code: str
    detail: str = ""


class HostLimiter:
    """Politeness: at most ``per_host`` requests in flight to one host, and ``spacing`` seconds between
    the starts of two requests to it."""

    def __init__(self, per_host: int, spacing: float = 0.0) -> None:
        self._per_host = per_host
        self._spacing = spacing
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._last: dict[str, float] = defaultdict(float)

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(host, threading.BoundedSemaphore(self._per_host))

    def fetch(self, url: str, run: Callable[[], FetchResult]) -> FetchResult:
        host = (urlsplit(url).hostname or "").lower()
        slot = self._slot(host)
        with slot:
            if self._spacing:
                self._wait_turn(host)
            return run()

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            start = max(time.monotonic(), self._last[host] + self._spacing)
            self._last[host] = start
        time.sleep(max(0.0, start - time.monotonic()))


@dataclass
class Checker:
    policy: FetchPolicy
    resolver: Resolver | None = None
    limiter: HostLimiter = field(default_factory=lambda: HostLimiter(2))
    media_budget: int = 3
    #: A batch that looks like taking at most this long (s) in the calling thread is checked there (see
    #: ``pools.kept_map``): threads only pay when the answers are waited for; 0 = always the threads.
    in_caller_for: float = 0.25

    def _fetch(self, url: str) -> FetchResult:
        """One polite fetch through the safe fetcher (raises ``FetchError``)."""
        return self.limiter.fetch(url, lambda: fetch(url, policy=self.policy, resolver=self.resolver))

    def _get(self, url: str) -> FetchResult | CheckResult:
        """The answer with content, or the check's result already (gone, refused, or try again later)."""
        try:
            got = self._fetch(url)
        except FetchError as exc:
            return _from_error(exc)
        return _from_status(got.status_code) or got

    def check(self, target: Target) -> CheckResult:
        """1. the captured media files at their captured URLs (one fetch when the content is still up);
        2. failing that, the page: gone, or does it embed a file with a captured hash under a new name?"""
        if not target.media:
            return self._page_status(target)
        tried = list(target.media)[: self.media_budget]
        results = [self._compare(url, target) for url in tried]
        found = next((r for r in results if r.outcome == HIT), None)
        if found is not None:
            return found
        transient = any(r.outcome == TRANSIENT for r in results)
        if target.url in target.media:  # a direct link to the file: its own answer decides
            return results[tried.index(target.url)] if target.url in tried else results[0]
        page = self._check_page(target, set(tried))
        if page.outcome == MISS and transient:
            return CheckResult(TRANSIENT, "media_unreachable", "a captured file could not be fetched for now")
        return page

    def _page_status(self, target: Target) -> CheckResult:
        page = self._get(target.url)
        return page if isinstance(page, CheckResult) else CheckResult(HIT, "online", "nothing captured to compare")

    def _compare(self, url: str, target: Target) -> CheckResult:
        got = self._get(url)
        if isinstance(got, CheckResult):
            return got
        if hashlib.sha256(got.body).hexdigest() in target.hashes:
            return CheckResult(HIT, "media_present", url)
        return CheckResult(MISS, "other_file", sniff(got.body))

    def _check_page(self, target: Target, tried: set[str]) -> CheckResult:
        page = self._get(target.url)
        if isinstance(page, CheckResult):
            return page
        if hashlib.sha256(page.body).hexdigest() in target.hashes:
            return CheckResult(HIT, "same_file")
        mime = sniff(page.body)
        if mime != "text/html":
            return CheckResult(MISS, "other_file" if media_kind(mime) != "other" else "other_content", mime)
        embedded = media_urls(page.body.decode("utf-8", errors="replace"), page.final_url, limit=200)
        transient = 0
        for url in [u for u in embedded if u not in tried][: self.media_budget]:
            result = self._compare(url, target)
            if result.outcome == HIT:
                return CheckResult(HIT, "media_reembedded", url)
            transient += int(result.outcome == TRANSIENT)
        if transient:
            return CheckResult(TRANSIENT, "media_unreachable", f"{transient} media fetches failed for now")
        captured_still_linked = any(u in target.media for u in embedded)
        return CheckResult(MISS, "media_gone" if captured_still_linked else "media_not_embedded")

    def check_many(self, targets: Iterable[Target], *, concurrency: int) -> list[tuple[Target, CheckResult]]:
        """Check all targets with up to ``concurrency`` threads, hosts interleaved so no host hogs the pool; a
        batch answered quickly is checked in the calling thread (``in_caller_for``)."""
        ordered = list(interleave_by_host(targets))
        # The checking threads are kept across calls (a busy step checks a few items every few seconds).
        found = kept_map(self._safe_check, ordered, name="liveness-check", workers=concurrency,
                         in_caller_for=self.in_caller_for)
        return list(zip(ordered, found, strict=True))

    def _safe_check(self, target: Target) -> CheckResult:
        try:
            return self.check(target)
        except Exception as exc:  # one broken page must not lose the results of the batch
            return CheckResult(TRANSIENT, "checker_error", f"{type(exc).__name__}: {exc}"[:300])


def _from_error(exc: FetchError) -> CheckResult:
    if exc.code in GONE_FETCH_CODES or (exc.code == "dns_failure" and not exc.retryable):
        return CheckResult(MISS, "dns_gone" if exc.code == "dns_failure" else exc.code, exc.message[:300])
    return CheckResult(TRANSIENT, exc.code, exc.message[:300])


def _from_status(status: int) -> CheckResult | None:
    if status in GONE_STATUSES:
        return CheckResult(MISS, f"http_{status}")
    if status >= 500 or status in TRANSIENT_STATUSES:
        return CheckResult(TRANSIENT, f"http_{status}")
    if status >= 400:
        return CheckResult(MISS, f"http_{status}")
    return None


def interleave_by_host(targets: Iterable[Target]) -> Iterator[Target]:
    """Round-robin over hosts: a, b, c, a, b, c, ... instead of a, a, a, b, b, ..."""
    queues: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        queues[(urlsplit(target.url).hostname or "").lower()].append(target)
    lists = list(queues.values())
    for index in range(max((len(q) for q in lists), default=0)):
        for queue in lists:
            if index < len(queue):
                yield queue[index]
