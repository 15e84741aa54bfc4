"""JSON API of the takedown domain: the machine form of the providers' signed links (no account needed:
the signed token is the credential, exactly as on the public page)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from hotline.takedown import respond as responding

router = Router(tags=["takedown"])


class RespondIn(Schema):
    token: str = Field(..., min_length=10, max_length=500)
    action: str = Field(..., description="notice: acknowledge | removed; request: answered | partial | refused")
    note: str = Field("", max_length=5000)


class RespondOut(Schema):
    result: str


class RefusedOut(Schema):
    detail: str


@router.post("/takedown/respond", auth=None, url_name="takedown_respond",
             response={200: RespondOut, 400: RefusedOut, 404: RefusedOut, 409: RefusedOut, 410: RefusedOut})
def respond(request: HttpRequest, payload: RespondIn) -> tuple[int, RespondOut | RefusedOut]:
    """400 an action the link does not allow, 404 a forged, damaged or unknown link, 409 already answered,
    410 an expired link."""
    try:
        target = responding.resolve(payload.token)
        result = responding.act(target, payload.action, note=payload.note, now=timezone.now())
    except responding.RespondError as exc:
        return exc.status, RefusedOut(detail=str(exc))
    return 200, RespondOut(result=result)
