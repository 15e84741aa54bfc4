"""Evidence packages for download from the police desk: the signed bag of a referral or of one item, each
download audited (``routing.package_downloaded``).

A referral's package is the one delivered to the police (the same bytes, `package_sha256`), built by the
referral worker; before that it is built afresh. An item's package is built afresh each time. Either way
the download is a file: an encrypted package (`.hlbag`) as it is, a bag directory as a tar of it.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction

from hotline.audit.services import Actor, record
from hotline.evidence.services import export_items
from hotline.reports.models import Item
from hotline.routing import actions
from hotline.routing.models import Referral

# Bags up to this size stay in memory while they are served; larger ones spill to a temporary file.
_IN_MEMORY = 8 << 20


@dataclass
class Package:
    filename: str
    file: IO[bytes]
    sha256: str
    size: int
    stored: bool  # the very package delivered to the police (else built for this download)


def referral_package(referral: Referral, *, actor: Actor) -> Package:
    path = Path(referral.package_path) if referral.package_path else None
    name = f"referral-{str(referral.key)[:8]}"
    if path is not None and path.exists():
        return _as_file(path, name, stored=True)
    return _fresh(list(referral.items.order_by("pk")), name, actor=actor)


def item_package(item: Item, *, actor: Actor) -> Package:
    return _fresh([item], f"item-{item.pk}", actor=actor)


def _fresh(items: list[Item], name: str, *, actor: Actor) -> Package:
    with tempfile.TemporaryDirectory(prefix="hotline-package-") as work:
        bag = export_items(items, Path(work) / name, actor=actor, organisation=settings.HOTLINE_ORGANISATION)
        return _as_file(bag, name, stored=False)


def _as_file(path: Path, name: str, *, stored: bool) -> Package:
    out = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115 - closed by the response
    if path.is_dir():
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(path, arcname=name)
        filename = f"{name}.tar"
    else:
        with path.open("rb") as source:
            while block := source.read(1 << 20):
                out.write(block)
        filename = path.name
    size, digest = out.tell(), _digest(out)
    return Package(filename=filename, file=out, sha256=digest, size=size, stored=stored)


def _digest(out: IO[bytes]) -> str:
    out.seek(0)
    digest = hashlib.sha256()
    while block := out.read(1 << 20):
        digest.update(block)
    out.seek(0)
    return digest.hexdigest()


# --- downloads, audited ----------------------------------------------------------------------------


def download_referral_package(referral: Referral, *, actor: Actor, now: datetime) -> Package:
    """The referral's signed evidence package for download, audited (`routing.package_downloaded`) each time."""
    package = referral_package(referral, actor=actor)
    _record_download(referral, package, actor=actor, now=now)
    return package


def download_item_package(item: Item, *, actor: Actor, now: datetime) -> Package:
    """A signed evidence package of one item for download, audited each time."""
    package = item_package(item, actor=actor)
    _record_download(item, package, actor=actor, now=now)
    return package


@transaction.atomic
def _record_download(obj: Referral | Item, package: Package, *, actor: Actor, now: datetime) -> None:
    record(actor, actions.PACKAGE_DOWNLOADED, obj, now=now, after={
        "file": package.filename, "sha256": package.sha256, "bytes": package.size,
        "delivered_package": package.stored})
