"""Writing one capture as a gzipped WARC file (ISO 28500), entirely in memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from hotline.lib.http import FetchResult

# Headers that describe the transfer, not the payload we keep (the fetcher has decoded it).
_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class _InMemoryWARCWriter(WARCWriter):  # type: ignore[misc]
    """warcio spools records of unknown length to a temporary file; plaintext must never touch
    disk, so every record here carries its length and a spool attempt is a bug."""

    @staticmethod
    def _create_temp_file() -> Any:
        raise RuntimeError("WARC record without a length: refusing to spool evidence to disk")


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as fetched."""

    url: str
    result: FetchResult
    user_agent: str


def _request_record(writer: WARCWriter, exchange: Exchange) -> Any:
    parts = urlsplit(exchange.result.final_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = StatusAndHeaders(
        f"GET {target} HTTP/1.1",
        [("Host", parts.netloc), ("User-Agent", exchange.user_agent), ("Accept", "*/*")],
        is_http_request=True,
    )
    return writer.create_warc_record(
        exchange.result.final_url, "request", payload=BytesIO(b""), length=0, http_headers=headers,
        warc_headers_dict={"WARC-IP-Address": exchange.result.peer_ip},
    )


def _response_record(writer: WARCWriter, exchange: Exchange) -> Any:
    result = exchange.result
    kept = [(k, v) for k, v in result.headers if k.lower() not in _TRANSFER_HEADERS]
    kept.append(("Content-Length", str(len(result.body))))
    headers = StatusAndHeaders(f"{result.status_code} {_reason(result.status_code)}", kept, protocol="HTTP/1.1")
    return writer.create_warc_record(
        result.final_url, "response", payload=BytesIO(result.body), length=len(result.body),
        http_headers=headers, warc_headers_dict={"WARC-IP-Address": result.peer_ip},
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def build_warc(name: str, exchanges: list[Exchange], context: dict[str, Any], *, at: datetime) -> bytes:
    """A WARC with a warcinfo record, request/response pairs and one metadata record."""
    buffer = BytesIO()
    writer = _InMemoryWARCWriter(buffer, gzip=True, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record(name, {
        "software": "hotline capture", "format": "WARC File Format 1.1",
        "isPartOf": f"hotline-item-{context.get('item_id')}", "created": at.isoformat(),
    }))
    for exchange in exchanges:
        request = _request_record(writer, exchange)
        response = _response_record(writer, exchange)
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        writer.write_record(request)
        writer.write_record(response)
    metadata = json.dumps(context, sort_keys=True, indent=1, default=str).encode()
    writer.write_record(writer.create_warc_record(
        f"urn:hotline:capture:{context.get('capture_ref')}", "metadata", payload=BytesIO(metadata),
        length=len(metadata), warc_content_type="application/json",
    ))
    return buffer.getvalue()
