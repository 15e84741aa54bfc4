"""VICS JSON: the reader of documents, Cases and Media (``parse_vics``).

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator
from types import MappingProxyType
from typing import IO

from hotline.lib.hashlists.jsonstream import _JsonStream, _Malformed, _TooLarge
from hotline.lib.hashlists.records import (
    _NO_EXTRA,
    MAX_CLASSIFICATION,
    MAX_SCHEME,
    MAX_SOURCE_ID,
    SIGNAL_TYPES,
    InvalidRecord,
    LineError,
    ParseItem,
    _check_text,
    _refused,
    _show,
    _trusted,
    map_verdict,
    normalise_value,
)
from hotline.lib.hashlists.vics import (
    _ALT_PREFIX,
    _MEDIA_HASH_KEYS,
    _MEDIA_MARKERS,
    _VERSION_IN_URL,
    _VICS_BOOLEANS,
    VicsInfo,
    _boolean,
    _hash_name,
    _numbering_scheme,
    _scalar_text,
    _stringify,
)


class _VicsReader:
    def __init__(self, binary: IO[bytes], scheme: str, info: VicsInfo, chunk_size: int, max_element: int,
                 fast_limit: int) -> None:
        self.s = _JsonStream(binary, chunk_size)
        self.given_scheme = scheme
        self.accept: Collection[str] = SIGNAL_TYPES
        self.scheme = ""  # decided by the context URL (which OData puts first), or when Media come first
        self.info = info
        self.max_element = max_element
        self.fast_limit = min(fast_limit, max_element)

    # -- the document ------------------------------------------------------------------------

    def document(self) -> Iterator[ParseItem]:
        s = self.s
        char = s.peek()
        if char != "{":
            yield LineError(s.line, "$", "not a VICS document: it must be a JSON object" if char else "empty document")
            return
        s.take()
        root_line = s.line
        seen_value = False
        first = True
        while True:
            char = s.peek()
            if char == "}":
                s.take()
                break
            if not first:
                if char != ",":
                    yield LineError(s.line, "$", f"expected ',' or '}}' between root keys, found {_show(char)}")
                    return
                s.take()
                char = s.peek()
            first = False
            key_line = s.line
            key = self._key(char)
            if key is None:
                yield LineError(key_line, "$", "expected a key (a string) in the root object")
                return
            if s.peek() != ":":
                yield LineError(s.line, "$", f"expected ':' after the key {_show(key)}")
                return
            s.take()
            char = s.peek()
            if key == "value":
                if char != "[":
                    yield LineError(s.line, "value", "the root 'value' must be an array")
                    return
                seen_value = True
                if not self.scheme:
                    self._decide_scheme("")
                if not (yield from self._value_array()):
                    return
                continue
            try:
                value = s.decode(self.max_element)
            except _TooLarge:
                if not s.skip():
                    yield LineError(key_line, "$", f"document ends inside the root key {_show(key)}")
                    return
                continue
            except _Malformed as exc:
                yield LineError(key_line, key, exc.message)
                return
            self._note_root(key, value)
        if s.peek():
            yield LineError(s.line, "$", "data after the end of the document")
        if not seen_value:
            yield LineError(root_line, "value", "no 'value' array at the root: not a VICS document")
        elif not self.info.version:
            yield LineError(root_line, "@odata.context",
                            "neither '@odata.context' (VICS 2.0) nor 'odata.metadata' (VICS 1.x) at the root")

    def _key(self, char: str) -> str | None:
        if char != '"':
            return None
        try:
            key = self.s.decode(self.max_element)
        except (_Malformed, _TooLarge):
            return None
        return key if isinstance(key, str) else None

    def _note_root(self, key: str, value: object) -> None:
        if key not in ("@odata.context", "odata.metadata") or self.info.version:
            return
        text = value if isinstance(value, str) else ""
        self.info.context = text[:500]
        match = _VERSION_IN_URL.search(text)
        self.info.version = match.group(1) if match else ("2.0" if key == "@odata.context" else "1.x")
        if not self.scheme:
            self._decide_scheme(text)

    def _decide_scheme(self, context: str) -> None:
        self.info.numbering, self.scheme, warning = _numbering_scheme(context, self.given_scheme)
        self.info.scheme = self.scheme
        if warning:
            self.info.warnings.append(warning)

    def _value_array(self) -> Generator[ParseItem, None, bool]:
        s = self.s
        s.take()  # [
        index = 0
        char = s.peek()
        if char == "]":
            s.take()
            return True
        while True:
            where = f"value[{index}]"
            if not char:
                yield LineError(s.line, where, "document ends inside the 'value' array")
                return False
            if not (yield from self._element(where)):
                return False
            index += 1
            self.info.elements = index
            char = s.peek()
            if char == "]":
                s.take()
                return True
            if char != ",":
                yield LineError(s.line, where, f"expected ',' or ']' after this element, found {_show(char)}"
                                if char else "document ends inside the 'value' array")
                return False
            s.take()
            char = s.peek()

    def _element(self, where: str) -> Generator[ParseItem, None, bool]:
        """One element of ``value``: a Media, or a Case whose Media are streamed one by one."""
        s = self.s
        start = s.line
        if s.peek() != "{":
            try:
                s.decode(self.max_element)
            except (_Malformed, _TooLarge):
                yield LineError(start, where, "not a JSON object")
                return s.skip()
            yield LineError(start, where, "not an object (a Case or a Media)")
            return True
        try:
            value, end = s.decode_at(self.fast_limit)
        except (_Malformed, _TooLarge):
            value, end = None, 0
        if isinstance(value, dict) and not isinstance(value.get("Media"), list):
            s.advance(end)
            yield from self._object(value, start, where)
            return True
        # A Case (walked so that every Media gets its own line), too large, or broken.
        return (yield from self._walk(where, start))

    def _walk(self, where: str, start: int) -> Generator[ParseItem, None, bool]:
        """An element too large or too broken to decode at once, one key at a time. Its size is capped
        at ``max_element`` characters as a whole, not per value (a streamed ``Media`` array is not
        counted: each of its Media has the cap of its own)."""
        s = self.s
        begin = s.offset
        s.take()  # {
        fields: dict[str, object] = {}
        streamed = False
        media_chars = 0  # characters of streamed Media arrays
        first = True
        while True:
            used = s.offset - begin - media_chars
            char = s.peek()
            if char == "}":
                s.take()
                break
            problem = ""
            if not first:
                if char != ",":
                    problem = (f"expected ',' or '}}' at line {s.line}, found {_show(char)}" if char
                               else "document ends inside it")
                else:
                    s.take()
                    char = s.peek()
            first = False
            key = None if problem else self._key(char)
            if not problem and key is None:
                problem = f"expected a key (a string) at line {s.line}"
            if key is not None and not problem:
                if s.peek() != ":":
                    problem = f"expected ':' after the key {_show(key)} at line {s.line}"
                else:
                    s.take()
                    char = s.peek()
                    if key == "Media" and char == "[":
                        streamed = True
                        array_begin = s.offset
                        if not (yield from self._media_array(where)):
                            return False
                        media_chars += s.offset - array_begin
                        continue
                    try:
                        fields[key] = s.decode(max(1, self.max_element - used))
                        if s.offset - begin - media_chars <= self.max_element:
                            continue
                        problem = f"larger than {self.max_element} characters (at the value of {_show(key)})"
                    except _TooLarge:
                        problem = f"larger than {self.max_element} characters (at the value of {_show(key)})"
                    except _Malformed as exc:
                        problem = exc.message
            yield LineError(start, where, f"{problem}; element skipped")
            if not s.skip(1):
                yield LineError(s.line, where, "document ends inside this element")
                return False
            return True
        if not streamed:
            yield from self._object(fields, start, where)
        return True

    def _media_array(self, where: str) -> Generator[ParseItem, None, bool]:
        s = self.s
        s.take()  # [
        index = 0
        char = s.peek()
        if char == "]":
            s.take()
            return True
        while True:
            line = s.line
            here = f"{where}.Media[{index}]"
            if not char:
                yield LineError(line, here, "document ends inside the Media array")
                return False
            try:
                media = s.decode(self.max_element)
            except (_Malformed, _TooLarge) as exc:
                message = exc.message if isinstance(exc, _Malformed) else f"larger than {self.max_element} characters"
                yield LineError(line, here, f"{message}; Media skipped")
                if not s.skip():
                    yield LineError(s.line, here, "document ends inside this Media")
                    return False
            else:
                if isinstance(media, dict):
                    yield from self._media(media, line)
                else:
                    yield LineError(line, here, "a Media is a JSON object")
            index += 1
            char = s.peek()
            if char == "]":
                s.take()
                return True
            if char != ",":
                yield LineError(s.line, here, f"expected ',' or ']' after this Media, found {_show(char)}"
                                if char else "document ends inside the Media array")
                return False
            s.take()
            char = s.peek()

    def _object(self, value: dict[str, object], line: int, where: str) -> Iterator[ParseItem]:
        """A decoded element: a Media, or a Case without a streamable Media array."""
        if "Media" in value:  # a Case; a streamable Media array never gets here (see _walk)
            if value["Media"] is not None and not isinstance(value["Media"], list):
                yield LineError(line, f"{where}.Media", "a Case's Media is an array")
            return
        if value.keys() & _MEDIA_MARKERS:
            yield from self._media(value, line)
        elif not value.keys() & {"CaseID", "CaseNumber", "SourceApplicationName"}:
            yield LineError(line, where, "neither a Case (with Media) nor a Media (with hashes)")

    # -- one Media ---------------------------------------------------------------------------

    def _media(self, media: dict[str, object], line: int) -> Iterator[ParseItem]:
        self.info.media += 1
        source_id = ""
        if media.get("MediaID") is not None:
            text = _scalar_text(media["MediaID"])
            if text is None:
                yield LineError(line, "MediaID", f"not a number or string: {_show(media['MediaID'])}; Media skipped")
                return
            source_id = text
        classification = ""
        if media.get("Category") is not None:
            text = _scalar_text(media["Category"])
            if text is None:
                yield LineError(line, "Category", f"not a number or string: {_show(media['Category'])}; Media skipped")
                return
            classification = text
        extra: dict[str, str] = {}
        for key, raw in media.items():
            if key in _MEDIA_HASH_KEYS or raw is None:
                continue
            extra[key] = _boolean(raw) if key in _VICS_BOOLEANS else _stringify(raw)
        found: list[tuple[str, str, str]] = []  # (signal type, raw value, field path)
        problems: list[LineError] = []
        self._hashes(media, "", found, extra, problems, line)
        files = media.get("MediaFiles")
        if isinstance(files, list):
            for index, item in enumerate(files):
                if isinstance(item, dict):
                    self._hashes(item, f"MediaFiles[{index}].", found, extra, problems, line)
                elif item is not None:
                    problems.append(LineError(line, f"MediaFiles[{index}]", "a MediaFile is a JSON object"))
        elif files is not None:
            problems.append(LineError(line, "MediaFiles", "MediaFiles is an array"))
        yield from problems
        try:
            classification = _check_text("classification", classification, MAX_CLASSIFICATION)
            source_id = _check_text("source_id", source_id, MAX_SOURCE_ID)
        except InvalidRecord as exc:
            field_name = "Category" if exc.field == "classification" else "MediaID"
            yield LineError(line, field_name, f"{exc.message}; Media skipped")
            return
        mapped = map_verdict(self.scheme, classification)
        frozen_extra = MappingProxyType(extra) if extra else _NO_EXTRA
        seen: set[tuple[str, str]] = set()
        for signal_type, raw, path in found:
            if signal_type not in self.accept:
                yield LineError(line, path, _refused(signal_type, self.accept))
                continue
            try:
                value = normalise_value(signal_type, raw)
            except InvalidRecord as exc:
                yield LineError(line, path, exc.message)
                continue
            if (signal_type, value) in seen:
                continue
            seen.add((signal_type, value))
            yield _trusted(signal_type, value, classification, self.scheme, mapped, source_id, frozen_extra)

    def _hashes(self, obj: dict[str, object], prefix: str, found: list[tuple[str, str, str]],
                extra: dict[str, str], problems: list[LineError], line: int) -> None:
        for key, signal_type in (("MD5", "md5"), ("SHA1", "sha1")):
            raw = obj.get(key)
            if raw is None or raw == "":
                continue
            if isinstance(raw, str):
                found.append((signal_type, raw, prefix + key))
            else:
                problems.append(LineError(line, prefix + key, f"not a string: {_show(raw)}"))
        alternatives = obj.get("AlternativeHashes")
        if alternatives is None:
            return
        if not isinstance(alternatives, list):
            problems.append(LineError(line, prefix + "AlternativeHashes", "AlternativeHashes is an array"))
            return
        for index, item in enumerate(alternatives):
            path = f"{prefix}AlternativeHashes[{index}]"
            if not isinstance(item, dict):
                problems.append(LineError(line, path, "an alternative hash is an object {HashName, HashValue}"))
                continue
            name, value = item.get("HashName"), item.get("HashValue")
            if not isinstance(name, str) or not name.strip():
                problems.append(LineError(line, path + ".HashName", f"missing or not a string: {_show(name)}"))
                continue
            if value is None or value == "":
                continue
            signal_type = _hash_name(name)
            if not signal_type:  # PhotoDNA and anything else we do not match on: kept, not an error
                extra.setdefault(_ALT_PREFIX + name.strip(), _stringify(value))
            elif isinstance(value, str):
                found.append((signal_type, value, path + ".HashValue"))
            else:
                problems.append(LineError(line, path + ".HashValue", f"not a string: {_show(value)}"))


def parse_vics(
    binary: IO[bytes],
    *,
    scheme: str = "",
    info: VicsInfo | None = None,
    chunk_size: int = 1 << 16,
    max_element: int = 16 << 20,
    accept: Collection[str] = SIGNAL_TYPES,
) -> Iterator[ParseItem]:
    """Records from a Project VIC VICS JSON document (1.x ``odata.metadata`` or 2.0
    ``@odata.context``; ``value`` holding Cases with ``Media`` arrays, or Media directly).

    One record per distinct hash of a Media: ``MD5``, ``SHA1``, the ``AlternativeHashes`` we know
    (SHA256, PDQ, ...) and the ``MD5``/``SHA1``/``AlternativeHashes`` of each ``MediaFiles`` entry.
    ``classification`` is ``str(Category)`` in the numbering the context URL names
    (``.../2.0.xml/US/$metadata``: ``vics-us``; ``UK``: ``vics-uk``; ``CUSTOM``: ``vics-custom``; see
    ``VICS_NUMBERINGS``); only US codes are mapped to verdicts. ``scheme`` names the numbering of a
    document whose URL names none or an unknown one; without it such categories are kept under
    ``vics`` or ``vics-<name>``, unmapped, with a warning in ``info.warnings``. ``source_id`` is
    ``str(MediaID)``; the other Media fields go to ``extra`` as
    text (booleans normalised to ``true``/``false``, lists and objects as compact JSON, unknown
    alternative hashes such as PhotoDNA as ``AlternativeHashes.<HashName>``: kept, never matched).
    Case fields (IDs, contacts) are not copied.

    Streaming: the input is read in ``chunk_size`` pieces and decoded one element at a time, so
    memory depends on the largest element, not the document; one Media or root value larger than
    ``max_element`` characters is reported and skipped. A malformed element is one ``LineError`` at
    the line it starts on, then the reader skips to the next element; when it cannot, it stops
    with one more error. ``info`` (optional) receives the version, numbering, counts and warnings.
    A known hash type outside ``accept`` (what the caller can store) is an error at its path.
    """
    scheme = _check_text("scheme", scheme, MAX_SCHEME).lower() if scheme else ""
    reader = _VicsReader(binary, scheme, info if info is not None else VicsInfo(),
                         chunk_size, max_element, fast_limit=1 << 16)
    reader.accept = accept
    yield from reader.document()
