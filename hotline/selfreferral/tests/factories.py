"""Objects the access matrix (hotline/core/tests/test_access_matrix.py) needs for selfreferral routes."""

from __future__ import annotations

import json

from hotline.selfreferral import services


def access_object(route: str) -> int:
    """A referral awaiting confirmation (every selfreferral route with a pk takes one)."""
    files = [{"kind": "image", "sha256": "a" * 64, "md5": "b" * 32, "pdq": "c" * 64, "quality": 90}]
    referral, _ = services.submit_referral(services.parse_submission(json.dumps(files)))
    return referral.pk
