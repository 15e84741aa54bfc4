"""A minimal IMAP4rev1 server on loopback, for tests and the demo: enough of the protocol for ``imaplib``.

Commands: CAPABILITY, NOOP, LOGIN, STARTTLS, SELECT/EXAMINE, UID SEARCH (ALL, UNDELETED, DELETED, SEEN,
UNSEEN), UID FETCH (UID, FLAGS, INTERNALDATE, RFC822.SIZE, RFC822, BODY[], BODY.PEEK[]), UID STORE
(FLAGS, +FLAGS, -FLAGS, .SILENT), EXPUNGE, CLOSE, LOGOUT. TLS is off, implicit (IMAPS) or STARTTLS,
with a throwaway CA written to ``ca_file``. Messages are synthetic bytes the test adds::

    with SimImap(users={"intake": "pw"}) as server:
        server.add_message(b"From: a@partner.example\\r\\n\\r\\nhttp://shop.sim.test/x\\r\\n")
        conn = imaplib.IMAP4("127.0.0.1", server.port)

Failures to inject: ``refuse_store`` answers NO to UID STORE (a crash between storing a mail and
removing it from the mailbox, seen from the client).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socketserver
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from hotline.sim.loopback import serve_in_thread, stop_serving

__all__ = ["SimImap", "SimMessage"]

TlsMode = Literal["none", "implicit", "starttls"]
_ATOM = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\()|(\))|([^\s()"]+)')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class SimMessage:
    uid: int
    raw: bytes
    internal_date: datetime
    flags: set[str] = field(default_factory=set)


def _internal_date(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f'"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year} {when:%H:%M:%S} +0000"'


def _tokens(line: bytes) -> list[Any]:
    """Atoms and quoted strings as ``str``, parenthesised lists as nested ``list``."""
    stack: list[list[Any]] = [[]]
    for quoted, opening, closing, atom in _ATOM.findall(line):
        if opening:
            stack.append([])
        elif closing and len(stack) > 1:
            done = stack.pop()
            stack[-1].append(done)
        elif atom:
            stack[-1].append(atom.decode("utf-8", "replace"))
        elif not closing:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8", "replace"))
    return stack[0]


def _uid_set(spec: str, uids: list[int]) -> set[int]:
    """``1:3,7,9:*`` over the existing ``uids`` (``*`` is the largest)."""
    top = max(uids, default=0)
    wanted: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition(":")
        first = top if low == "*" else int(low)
        last = first if not high else (top if high == "*" else int(high))
        first, last = min(first, last), max(first, last)
        wanted.update(uid for uid in uids if first <= uid <= last)
    return wanted


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, sim: SimImap) -> None:
        self.sim = sim
        super().__init__((sim.address, 0), _Session)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-session are expected


class _Session(socketserver.StreamRequestHandler):
    """One client connection: a small state machine over tagged command lines."""

    server: _Server
    timeout = 10

    def setup(self) -> None:
        sim = self.server.sim
        if sim.tls == "implicit":
            assert sim.context is not None
            self.request.settimeout(self.timeout)
            self.request = sim.context.wrap_socket(self.request, server_side=True)
        super().setup()
        self.user: str | None = None
        self.folder: str | None = None
        self.read_only = False
        self.tls_active = sim.tls == "implicit"

    # ---------------------------------------------------------------- plumbing

    def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.wfile.write(data + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {self.capabilities()}] SimImap ready")
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            parts = line.rstrip(b"\r\n").split(b" ", 2)
            if len(parts) < 2:
                self.send(b"* BAD no tag or command")
                continue
            tag, command = parts[0].decode("ascii", "replace"), parts[1].decode("ascii", "replace").upper()
            args = _tokens(parts[2]) if len(parts) > 2 else []
            with self.server.sim.lock:
                self.server.sim.commands.append(command if command != "UID" else f"UID {args[:1]}")
            if self.dispatch(tag, command, args) == "close":
                return

    def dispatch(self, tag: str, command: str, args: list[Any]) -> str | None:
        handler = getattr(self, f"cmd_{command.lower()}", None)
        if handler is None:
            self.send(f"{tag} BAD unknown command {command}")
            return None
        try:
            result: str | None = handler(tag, args)
        except (ValueError, IndexError, TypeError):
            self.send(f"{tag} BAD malformed arguments")
            return None
        return result

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "UIDPLUS"]
        if self.server.sim.tls == "starttls" and not getattr(self, "tls_active", False):
            caps += ["STARTTLS", "LOGINDISABLED"]
        return " ".join(caps)

    def need_folder(self, tag: str) -> bool:
        if self.folder is None:
            self.send(f"{tag} BAD select a folder first")
            return False
        return True

    # ---------------------------------------------------------------- commands

    def cmd_capability(self, tag: str, args: list[Any]) -> None:
        self.send(f"* CAPABILITY {self.capabilities()}")
        self.send(f"{tag} OK CAPABILITY completed")

    def cmd_noop(self, tag: str, args: list[Any]) -> None:
        self.send(f"{tag} OK NOOP completed")

    def cmd_starttls(self, tag: str, args: list[Any]) -> None:
        sim = self.server.sim
        if sim.tls != "starttls" or self.tls_active:
            self.send(f"{tag} BAD STARTTLS not available")
            return
        assert sim.context is not None
        self.send(f"{tag} OK begin TLS negotiation now")
        self.request = sim.context.wrap_socket(self.request, server_side=True)
        self.connection = self.request
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb")
        self.tls_active = True

    def cmd_login(self, tag: str, args: list[Any]) -> None:
        sim = self.server.sim
        if sim.tls == "starttls" and not self.tls_active:
            self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN only after STARTTLS")
            return
        user, password = str(args[0]), str(args[1])
        if sim.users.get(user) != password:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
            return
        self.user = user
        with sim.lock:
            sim.logins.append(user)
        self.send(f"{tag} OK LOGIN completed")

    def cmd_select(self, tag: str, args: list[Any], *, read_only: bool = False) -> None:
        if self.user is None:
            self.send(f"{tag} NO log in first")
            return
        name = str(args[0])
        sim = self.server.sim
        if name.upper() == "INBOX":
            name = "INBOX"
        with sim.lock:
            if name not in sim.folders:
                self.send(f"{tag} NO [NONEXISTENT] no such folder")
                return
            count = len(sim.folders[name])
            next_uid = sim.next_uid
        self.folder, self.read_only = name, read_only
        self.send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
        self.send(f"* {count} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* OK [UIDVALIDITY {sim.uid_validity}] UIDs valid")
        self.send(f"* OK [UIDNEXT {next_uid}] predicted next UID")
        mode, verb = ("READ-ONLY", "EXAMINE") if read_only else ("READ-WRITE", "SELECT")
        self.send(f"{tag} OK [{mode}] {verb} done")

    def cmd_examine(self, tag: str, args: list[Any]) -> None:
        self.cmd_select(tag, args, read_only=True)

    def cmd_uid(self, tag: str, args: list[Any]) -> None:
        if not self.need_folder(tag):
            return
        sub = str(args[0]).upper()
        handler = {"SEARCH": self.uid_search, "FETCH": self.uid_fetch, "STORE": self.uid_store}.get(sub)
        if handler is None:
            self.send(f"{tag} BAD UID {sub} not supported")
            return
        handler(tag, args[1:])

    def messages(self) -> list[SimMessage]:
        assert self.folder is not None
        return list(self.server.sim.folders[self.folder])

    def uid_search(self, tag: str, args: list[Any]) -> None:
        criteria = [str(a).upper() for a in args] or ["ALL"]
        tests: dict[str, Callable[[SimMessage], bool]] = {
            "ALL": lambda m: True,
            "UNDELETED": lambda m: "\\Deleted" not in m.flags,
            "DELETED": lambda m: "\\Deleted" in m.flags,
            "SEEN": lambda m: "\\Seen" in m.flags,
            "UNSEEN": lambda m: "\\Seen" not in m.flags,
        }
        if any(c not in tests for c in criteria):
            self.send(f"{tag} BAD search criterion not supported")
            return
        with self.server.sim.lock:
            found = [m.uid for m in self.messages() if all(tests[c](m) for c in criteria)]
        self.send("* SEARCH" + "".join(f" {uid}" for uid in found))
        self.send(f"{tag} OK UID SEARCH completed")

    def uid_fetch(self, tag: str, args: list[Any]) -> None:
        items = args[1] if isinstance(args[1], list) else [args[1]]
        wanted = [str(i).upper() for i in items]
        with self.server.sim.lock:
            listing = self.messages()
            chosen = _uid_set(str(args[0]), [m.uid for m in listing])
            for seq, message in enumerate(listing, start=1):
                if message.uid in chosen:
                    self.send(self.fetch_line(seq, message, wanted))
        self.send(f"{tag} OK UID FETCH completed")

    def fetch_line(self, seq: int, message: SimMessage, wanted: list[str]) -> bytes:
        parts: list[bytes] = [f"UID {message.uid}".encode()]
        body: bytes | None = None
        for item in wanted:
            if item == "FLAGS":
                parts.append(f"FLAGS ({' '.join(sorted(message.flags))})".encode())
            elif item == "INTERNALDATE":
                parts.append(f"INTERNALDATE {_internal_date(message.internal_date)}".encode())
            elif item == "RFC822.SIZE":
                parts.append(f"RFC822.SIZE {len(message.raw)}".encode())
            elif item in ("RFC822", "BODY[]", "BODY.PEEK[]"):
                body = message.raw
                if item != "BODY.PEEK[]" and not self.read_only:
                    message.flags.add("\\Seen")
                label = "RFC822" if item == "RFC822" else "BODY[]"
                parts.append(f"{label} {{{len(body)}}}\r\n".encode() + body)
        return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")"

    def uid_store(self, tag: str, args: list[Any]) -> None:
        sim = self.server.sim
        if sim.refuse_store or self.read_only:
            self.send(f"{tag} NO STORE refused")
            return
        mode = str(args[1]).upper()
        flags = {str(f) for f in (args[2] if isinstance(args[2], list) else [args[2]])}
        with sim.lock:
            listing = self.messages()
            chosen = _uid_set(str(args[0]), [m.uid for m in listing])
            for seq, message in enumerate(listing, start=1):
                if message.uid not in chosen:
                    continue
                if mode.startswith("+"):
                    message.flags |= flags
                elif mode.startswith("-"):
                    message.flags -= flags
                else:
                    message.flags = set(flags)
                if not mode.endswith(".SILENT"):
                    self.send(f"* {seq} FETCH (UID {message.uid} FLAGS ({' '.join(sorted(message.flags))}))")
        self.send(f"{tag} OK UID STORE completed")

    def cmd_expunge(self, tag: str, args: list[Any], *, quiet: bool = False) -> None:
        if not self.need_folder(tag):
            return
        assert self.folder is not None
        sim = self.server.sim
        with sim.lock:
            listing = sim.folders[self.folder]
            gone = [seq for seq, m in enumerate(listing, start=1) if "\\Deleted" in m.flags]
            sim.folders[self.folder] = [m for m in listing if "\\Deleted" not in m.flags]
        if not quiet:
            for seq in reversed(gone):  # highest first, so each number is still valid when sent
                self.send(f"* {seq} EXPUNGE")
        self.send(f"{tag} OK EXPUNGE completed")

    def cmd_close(self, tag: str, args: list[Any]) -> None:
        if self.folder is not None and not self.read_only:
            self.cmd_expunge(tag, args, quiet=True)
        else:
            self.send(f"{tag} OK CLOSE completed")
        self.folder = None

    def cmd_logout(self, tag: str, args: list[Any]) -> str:
        self.send("* BYE SimImap logging out")
        self.send(f"{tag} OK LOGOUT completed")
        return "close"


class SimImap:
    """A loopback IMAP server holding synthetic messages in memory (folder ``INBOX`` and any added)."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        address: str = "127.0.0.1",
        tls: TlsMode = "none",
        folders: Iterable[str] = ("INBOX",),
    ) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError("SimImap only binds to loopback addresses")
        self.address = address
        self.users = dict(users or {"intake": "intake-password"})
        self.tls: TlsMode = tls
        self.folders: dict[str, list[SimMessage]] = {name: [] for name in folders}
        self.uid_validity = int(time.time())
        self.next_uid = 1
        self.refuse_store = False
        self.commands: list[str] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.context: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        self._tmpdir: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimImap:
        if self._server is not None:
            raise RuntimeError("already started")
        if self.tls != "none":
            self.context = self._tls_context()
        self._server = _Server(self)
        self._thread = serve_in_thread(self._server)
        return self

    def stop(self) -> None:
        stop_serving(self._server, self._thread)
        self._server = self._thread = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = self.ca_file = None

    def __enter__(self) -> SimImap:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    def url(self, user: str = "intake", folder: str = "INBOX") -> str:
        """The intake URL for this server: ``imaps://`` (implicit TLS), ``imap://`` (STARTTLS) or
        ``imap+plain://`` (no TLS, loopback only)."""
        scheme = {"implicit": "imaps", "starttls": "imap", "none": "imap+plain"}[self.tls]
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{user}@{host}:{self.port}/{folder}"

    def add_message(self, raw: bytes, *, folder: str = "INBOX", internal_date: datetime | None = None,
                    flags: Iterable[str] = ()) -> int:
        """Deliver ``raw`` (CRLF line ends added where missing) and return its UID."""
        data = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
        with self.lock:
            uid = self.next_uid
            self.next_uid += 1
            self.folders.setdefault(folder, []).append(
                SimMessage(uid, data, internal_date or datetime.now(UTC), set(flags)))
        return uid

    def messages(self, folder: str = "INBOX") -> list[SimMessage]:
        with self.lock:
            return list(self.folders.get(folder, []))

    def _tls_context(self) -> ssl.SSLContext:
        from hotline.sim.web import _make_certificates

        self._tmpdir = tempfile.mkdtemp(prefix="simimap-tls-")
        ca_pem, cert_pem, key_pem = _make_certificates(["imap.sim.test", "localhost"], self.address)
        directory = Path(self._tmpdir)
        for name, data in (("ca.pem", ca_pem), ("cert.pem", cert_pem), ("key.pem", key_pem)):
            (directory / name).write_bytes(data)
        self.ca_file = str(directory / "ca.pem")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
        return context
