"""JSON API of the takedown domain."""

from ninja import Router

router = Router(tags=["takedown"])
