"""Seal hashes kept outside the database (anchors), and the check of the seal chain against them.

Inside the database, the seal chain catches an edited or cut stream, but not someone with database-owner rights who
deletes the newest seal or drops the triggers and rewrites streams and seals consistently (docs/audit.md, Limits).
An anchor is a line written outside the database when a seal commits: ``{"hash": ..., "seal": id, "sealed_at": ...}``.
It goes to the ``hotline.audit.anchor`` logger (route it to a remote log host) and, when
``HOTLINE_AUDIT_ANCHOR_FILE`` is set, is appended to that file (put it where the database's owner cannot rewrite it:
another machine's mount, an append-only file). ``hotline audit verify`` then checks each anchored seal: still there,
with the same hash. Because each seal's hash covers the previous seal's, an anchored seal vouches for every seal
before it, so a crash between a seal's commit and its anchor loses nothing that the next anchor does not cover.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.audit.models import AuditSeal

log = logging.getLogger("hotline.audit.anchor")


@dataclass(frozen=True)
class Anchor:
    line: int
    seal: int
    hash: str


def anchor_line(seal: AuditSeal) -> str:
    """The seal as one line of JSON (keys sorted; the hash is what counts, the time helps a reader)."""
    return json.dumps({"seal": seal.pk, "sealed_at": seal.sealed_at.isoformat(), "hash": seal.hash}, sort_keys=True)


def write(seal: AuditSeal, path: str | None) -> bool:
    """Log the seal's anchor and append it to ``path`` (fsynced) when one is given. A file that cannot be written
    is logged as an error and does not undo the seal (it is committed); the next seal's anchor covers this one."""
    line = anchor_line(seal)
    log.info("%s", line)
    if not path:
        return True
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("could not append the anchor of seal %s to %s: %s", seal.pk, path, exc)
        return False
    return True


def read(path: str | Path) -> tuple[list[Anchor], list[str]]:
    """The anchors in ``path`` and, for each line that is not one, what is wrong with it (naming the line)."""
    anchors: list[Anchor] = []
    problems: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                data: Any = json.loads(text)
                seal, hash_ = data["seal"], data["hash"]
                if not isinstance(seal, int) or not isinstance(hash_, str) or len(hash_) != 64:
                    raise ValueError("'seal' must be a number and 'hash' 64 hex digits")
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path} line {number}: not an anchor ({exc})")
                continue
            anchors.append(Anchor(number, seal, hash_))
    return anchors, problems


def check(path: str | Path, seals: Iterable[AuditSeal]) -> tuple[int, list[str]]:
    """How many anchors ``path`` holds, and what they say is wrong with the database's seals: an anchored seal gone
    (deleted, or the database restored from before it) or with another hash (rewritten)."""
    hashes = {s.pk: s.hash for s in seals}
    try:
        anchors, problems = read(path)
    except FileNotFoundError:
        if not hashes:
            return 0, []  # anchoring on, nothing sealed yet
        return 0, [f"cannot read the anchors: {path} does not exist (no seal anchored there yet?)"]
    except OSError as exc:
        return 0, [f"cannot read the anchors in {path}: {exc}"]
    for anchor in anchors:
        where = f"{path} line {anchor.line}"
        found = hashes.get(anchor.seal)
        if found is None:
            problems.append(f"{where}: anchored seal {anchor.seal} is missing (deleted, or the database was restored "
                            "from a backup older than it)")
        elif found != anchor.hash:
            problems.append(f"{where}: seal {anchor.seal} has another hash than anchored (seals rewritten)")
    return len(anchors), problems
