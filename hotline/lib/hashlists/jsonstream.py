"""VICS JSON: an incremental reader, one element of a large document at a time.

No Django here (see ``hotline.lib.hashlists``)."""

from __future__ import annotations

import codecs
import json
import re
from typing import IO

_WS = re.compile(r"[ \t\n\r]*")
_STRUCTURE = re.compile(r'[{}\[\]",]')
_IN_STRING = re.compile(r'["\\\n]')
#: Characters from the error position to the end of the buffer within which a JSON error may just
#: mean "the buffer ends here" (a cut literal like ``tru``, number, or ``\u`` escape).
_TRUNCATION_SLACK = 16


class _Malformed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _TooLarge(Exception):
    pass


class _JsonStream:
    """A sliding text window over a binary JSON stream, with the line number of its position."""

    def __init__(self, binary: IO[bytes], chunk_size: int) -> None:
        self._binary = binary
        self._chunk = max(1, chunk_size)
        self._decoder: codecs.IncrementalDecoder | None = None
        self._head = b""
        self._json = json.JSONDecoder(strict=False)  # lenient: raw tabs/newlines in strings
        self.buf = ""
        self.pos = 0
        self._dropped = 0  # characters before buf[0], already consumed
        self.line = 1
        self.eof = False

    @property
    def offset(self) -> int:
        """Characters consumed since the start of the input."""
        return self._dropped + self.pos

    # -- reading -------------------------------------------------------------------------------

    def _decode(self, data: bytes, final: bool) -> str:
        if self._decoder is None:
            self._head += data
            if len(self._head) < 4 and not final:
                return ""
            head, self._head = self._head, b""
            encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
            self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
            data = head
        return self._decoder.decode(data, final)

    def fill(self, want: int) -> bool:
        """Buffer at least ``want`` more characters if the input has them; False if none came."""
        if self.eof:
            return False
        if self.pos:
            self._dropped += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        parts: list[str] = []
        got = 0
        while got < want and not self.eof:
            data = self._binary.read(max(self._chunk, want - got))
            if not data:
                self.eof = True
                text = self._decode(b"", True)
            else:
                text = self._decode(data, False)
            if text:
                parts.append(text)
                got += len(text)
        if parts:
            self.buf += "".join(parts)
        return got > 0

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """Skip whitespace; the next character, or ``""`` at the end of the input."""
        while True:
            match = _WS.match(self.buf, self.pos)
            end = match.end() if match else self.pos
            self.advance(end)
            if end < len(self.buf):
                return self.buf[end]
            if not self.fill(1):
                return ""

    def take(self) -> None:
        """Consume the character ``peek`` returned."""
        self.pos += 1  # never a newline: peek skipped whitespace

    # -- values ----------------------------------------------------------------------------------

    def _truncated(self, exc: json.JSONDecodeError) -> bool:
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc) - _TRUNCATION_SLACK

    def decode_at(self, limit: int) -> tuple[object, int]:
        """Decode the JSON value at the position (after ``peek``) without consuming it.

        Reads more input while the value is incomplete; ``_TooLarge`` once ``limit`` characters are
        buffered without completing it, ``_Malformed`` when it is not valid JSON.
        """
        while True:
            try:
                value, end = self._json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof and self._truncated(exc):
                    if len(self.buf) - self.pos >= limit:
                        raise _TooLarge from None
                    self.fill(max(self._chunk, len(self.buf) - self.pos))
                    continue
                where = self.line + self.buf.count("\n", self.pos, exc.pos)
                raise _Malformed(f"malformed JSON at line {where}: {exc.msg}") from None
            except RecursionError:
                raise _Malformed("malformed JSON: nested too deeply") from None
            except ValueError as exc:  # e.g. an integer with more digits than Python converts
                raise _Malformed(f"malformed JSON: {exc}") from None
            if end == len(self.buf) and not self.eof and not isinstance(value, dict | list | str):
                self.fill(self._chunk)  # a number at the end of the buffer may go on
                continue
            return value, end

    def decode(self, limit: int) -> object:
        value, end = self.decode_at(limit)
        self.advance(end)
        return value

    def skip(self, depth: int = 0) -> bool:
        """Skip forward to the next ``,`` ``]`` or ``}`` outside strings at nesting 0, without
        consuming it, holding only a window in memory; ``depth`` 1 skips the rest of the object the
        position is in. False if the input ends first.

        Recovery from damage: a raw line break ends a string (a missing quote), and a closing
        bracket that does not match the innermost open one closes the innermost one it matches
        (``[1, 2}`` inside an object ends the object); one that matches none open here belongs to an
        enclosing container and stops the skip.
        """
        i = self.pos
        open_brackets: list[str] = ["{"] * depth
        in_string = False
        while True:
            if i >= len(self.buf):
                self.advance(len(self.buf))
                if not self.fill(self._chunk):
                    return False
                i = self.pos
                continue
            if in_string:
                match = _IN_STRING.search(self.buf, i)
                if match is None:
                    i = len(self.buf)
                    continue
                if match.group() == "\\":
                    if match.end() >= len(self.buf) and not self.eof:
                        self.advance(match.start())
                        self.fill(self._chunk)
                        i = self.pos
                        continue
                    i = match.end() + 1
                else:
                    in_string = False
                    i = match.end()
                continue
            match = _STRUCTURE.search(self.buf, i)
            if match is None:
                i = len(self.buf)
                continue
            char = match.group()
            j = match.start()
            if char == '"':
                in_string = True
            elif char in "{[":
                open_brackets.append(char)
            elif not open_brackets:  # , ] or } at our level
                self.advance(j)
                return True
            elif char != ",":
                opener = "{" if char == "}" else "["
                if opener not in open_brackets:
                    self.advance(j)
                    return True
                while open_brackets.pop() != opener:
                    pass
            i = j + 1
