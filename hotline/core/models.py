"""Tables that belong to no domain: the rate-limit counters of ``hotline.lib.ratelimit``."""

from __future__ import annotations

from django.db import models

from hotline.lib import ratelimit


class RateCounter(models.Model):
    """Hits of one key in one fixed window of one scope; written only by ratelimit's one-statement upsert."""

    scope = models.CharField(max_length=64)
    digest = models.CharField(max_length=32, help_text="keyed hash of the client key (address, API client)")
    window_start = models.BigIntegerField(help_text="Unix seconds")
    expires_at = models.BigIntegerField(help_text="Unix seconds: the window's end")
    hits = models.BigIntegerField(default=0)

    class Meta:
        db_table = ratelimit.TABLE
        constraints = [
            # The conflict target of the counting upsert (ON CONFLICT (scope, digest, window_start)).
            models.UniqueConstraint(fields=["scope", "digest", "window_start"], name="ratelimit_window_uniq"),
        ]
        indexes = [
            # The purge step: DELETE ... WHERE expires_at < cutoff ORDER BY expires_at LIMIT n.
            models.Index(fields=["expires_at"], name="ratelimit_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.digest[:8]} @{self.window_start}: {self.hits}"
