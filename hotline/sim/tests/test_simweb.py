"""Tests for the simulated web (hotline.sim.web) and synthetic media (hotline.sim.images)."""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from PIL import Image, UnidentifiedImageError

from hotline.lib.http import FetchError, FetchResult, fetch
from hotline.sim.images import KINDS, make_image, make_video_stub
from hotline.sim.web import SimRequest, SimResponse, SimWeb

FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "animated_gif": "GIF"}
EXT = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp", "animated_gif": "gif"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: tuple[str, int]) -> None:
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"test tried to connect to non-loopback {address}")
        real_connect(self, address)

    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"real DNS lookup attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimWeb]:
    with SimWeb() as web:
        yield web


def get(sim: SimWeb, host: str, path: str, **policy: object) -> FetchResult:
    return fetch(sim.url(host, path), policy=sim.fetch_policy(**policy))


class _MediaRefs(HTMLParser):
    """Collects media URLs from img/srcset/picture source/video source/poster and CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: dict[str, set[str]] = {}
        self._in_style = False

    def _add(self, how: str, url: str) -> None:
        self.refs.setdefault(how, set()).add(url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "src" in values and tag in ("img", "source"):
            self._add(f"{tag}[src]", values["src"])
        if "srcset" in values:
            for candidate in values["srcset"].split(","):
                self._add(f"{tag}[srcset]", candidate.split()[0])
        if tag == "video" and "poster" in values:
            self._add("video[poster]", values["poster"])
        for url in re.findall(r"url\(['\"]?([^'\")]+)", values.get("style", "")):
            self._add("style attr", url)
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            for url in re.findall(r"url\(['\"]?([^'\")]+)", data):
                self._add("style block", url)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


# ----------------------------------------------------------------- images


@pytest.mark.parametrize("kind", KINDS)
def test_make_image_is_valid_and_deterministic(kind: str) -> None:
    for seed in range(3):  # gradient, shapes, noise
        data = make_image(kind, seed, size=(40, 30))
        assert data == make_image(kind, seed, size=(40, 30))
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == FORMATS[kind] and image.size == (40, 30)
        assert getattr(image, "n_frames", 1) == (4 if kind == "animated_gif" else 1)
    assert make_image(kind, 1) != make_image(kind, 2)


def test_make_image_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError):
        make_image("tiff", 1)


@pytest.mark.parametrize("kind", KINDS)
def test_each_media_type_served_with_valid_bytes(sim: SimWeb, kind: str) -> None:
    result = get(sim, "cdn.sim.test", f"/media/{kind}-7.{EXT[kind]}?w=32&h=20")
    assert result.status_code == 200
    assert result.header("content-type") == f"image/{FORMATS[kind].lower()}"
    image = Image.open(io.BytesIO(result.body))
    image.load()
    assert image.format == FORMATS[kind] and image.size == (32, 20)
    assert result.body == make_image(kind, 7, (32, 20))


def test_video_stub_is_iso_bmff(sim: SimWeb) -> None:
    result = get(sim, "cdn.sim.test", "/media/clip-3.mp4")
    assert result.header("content-type") == "video/mp4"
    assert result.body[4:8] == b"ftyp" and result.body[8:12] == b"isom"
    assert result.body == make_video_stub(3)


def test_wrong_extension_is_404(sim: SimWeb) -> None:
    assert get(sim, "cdn.sim.test", "/media/png-1.jpg").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/broken/truncated-png-1.png",
        "/broken/truncated-jpeg-2.jpg",
        "/broken/garbage-3.jpg",
        "/broken/garbage-4.png",
    ],
)
def test_broken_images_have_image_type_but_do_not_decode(sim: SimWeb, path: str) -> None:
    result = get(sim, "files.sim.test", path)
    assert result.status_code == 200
    assert (result.header("content-type") or "").startswith("image/")
    with pytest.raises((OSError, UnidentifiedImageError, SyntaxError)):
        image = Image.open(io.BytesIO(result.body))
        image.load()


# ------------------------------------------------------------------ pages


@pytest.mark.parametrize("host", ["shop.sim.test", "gallery.sim.test", "forum.sim.test"])
def test_site_page_references_all_media_in_every_form(sim: SimWeb, host: str) -> None:
    page = get(sim, host, "/")
    assert page.status_code == 200
    assert page.header("content-type") == "text/html; charset=utf-8"
    parser = _MediaRefs()
    parser.feed(page.body.decode())
    assert set(parser.refs) == {
        "img[src]",
        "img[srcset]",
        "source[srcset]",
        "source[src]",
        "video[poster]",
        "style attr",
        "style block",
    }
    found = set().union(*parser.refs.values())
    assert found == set(sim.site_media(host))
    for ref in sorted(found):
        url = ref if ref.startswith("http") else sim.url(host, ref)
        result = fetch(url, policy=sim.fetch_policy())
        assert result.status_code == 200, ref
        assert (result.header("content-type") or "").split("/")[0] in ("image", "video")


def test_sites_differ_by_host(sim: SimWeb) -> None:
    shop, blog = get(sim, "shop.sim.test", "/").body, get(sim, "blog.sim.test", "/").body
    assert shop != blog and b"shop.sim.test" in shop


def test_unknown_host_is_404(sim: SimWeb) -> None:
    policy = sim.fetch_policy(host_map={"unknown.sim.test": "127.0.0.1"})
    result = fetch(f"http://unknown.sim.test:{sim.port}/", policy=policy)
    assert result.status_code == 404 and result.body == b"unknown host"


@pytest.mark.parametrize("code", [404, 410, 503])
def test_status_routes(sim: SimWeb, code: int) -> None:
    assert get(sim, "shop.sim.test", f"/status/{code}").status_code == code


def test_redirect_routes(sim: SimWeb) -> None:
    result = get(sim, "shop.sim.test", "/redirect/301")
    assert [h.status_code for h in result.redirects] == [301]
    assert result.final_url == sim.url("shop.sim.test", "/")
    with pytest.raises(FetchError):
        get(sim, "shop.sim.test", "/redirect/private")


# -------------------------------------------------------- runtime changes


def test_runtime_page_add_modify_remove(sim: SimWeb) -> None:
    host, path = "forum.sim.test", "/thread/42"
    assert get(sim, host, path).status_code == 404
    sim.set_page(host, path, "<p>first</p>")
    assert get(sim, host, path).body == b"<p>first</p>"
    sim.set_page(host, path, b"<p>second</p>", headers=[("X-Sim", "1")])
    result = get(sim, host, path)
    assert result.body == b"<p>second</p>" and result.header("x-sim") == "1"
    sim.set_page(host, path, "removed by provider", status=410, content_type="text/plain")
    assert get(sim, host, path).status_code == 410
    sim.remove_page(host, path)
    assert get(sim, host, path).status_code == 404


def test_set_page_overrides_builtin_route_and_adds_host(sim: SimWeb) -> None:
    sim.set_page("new.sim.test", "/", "<p>new site</p>")
    assert "new.sim.test" in sim.host_map
    assert get(sim, "new.sim.test", "/").body == b"<p>new site</p>"


def test_add_route_and_subclass() -> None:
    class ProviderWeb(SimWeb):
        def install_routes(self) -> None:
            super().install_routes()
            self.add_host("provider.sim.test")
            self.add_route("provider.sim.test", r"/abuse/(\d+)", self.abuse)

        def abuse(self, request: SimRequest) -> SimResponse:
            return SimResponse(
                202, f"ticket {request.path.rsplit('/', 1)[1]}".encode(), content_type="text/plain"
            )

    with ProviderWeb() as web:
        result = get(web, "provider.sim.test", "/abuse/9")
        assert (result.status_code, result.body) == (202, b"ticket 9")
        assert get(web, "shop.sim.test", "/abuse/9").status_code == 404  # host-specific
        assert web.requests_to("provider.sim.test", "/abuse/9")[0].method == "GET"


def test_requests_are_logged(sim: SimWeb) -> None:
    get(sim, "gallery.sim.test", "/page/3")
    logged = sim.requests_to("gallery.sim.test", "/page/3")[-1]
    assert logged.header("user-agent") and logged.client == "127.0.0.1"


# ---------------------------------------------------------- server modes


def test_start_info_and_context_manager() -> None:
    web = SimWeb(hosts=["a.sim.test"])
    info = web.start()
    try:
        assert info.address == "127.0.0.1" and info.port > 0 and info.scheme == "http"
        assert info.host_map == {"a.sim.test": "127.0.0.1"}
        assert get(web, "a.sim.test", "/echo").status_code == 200
    finally:
        web.stop()
    with pytest.raises(RuntimeError):
        _ = web.port


def test_tls_mode() -> None:
    with SimWeb(tls=True) as web:
        assert web.ca_file is not None
        result = get(web, "gallery.sim.test", "/media/png-1.png")
        assert result.final_url.startswith("https://gallery.sim.test:")
        assert web.sni_names == ["gallery.sim.test"]
    assert web.ca_file is None


def test_ipv6_loopback() -> None:
    try:
        web = SimWeb(address="::1")
        web.start()
    except OSError:  # pragma: no cover
        pytest.skip("no IPv6 loopback here")
    try:
        result = get(web, "shop.sim.test", "/echo")
        assert result.peer_ip == "::1"
    finally:
        web.stop()


def test_refuses_non_loopback_bind() -> None:
    with pytest.raises(ValueError):
        SimWeb(address="10.0.0.1")


def test_stop_is_prompt_with_slow_request_in_flight() -> None:
    """Stopping does not wait for an hour-long response in flight: the client sees the connection end.

    No clock is read: the request is known to be in flight (the server logged it), and the client,
    patient for an hour, is done within a bound far below that only if ``stop`` cut the response short.
    """
    web = SimWeb()
    web.start()
    errors: list[str] = []
    hour = 3600.0

    def slow() -> None:
        try:
            get(web, "shop.sim.test", f"/slow?delay={hour:.0f}", read_timeout=hour, total_timeout=hour)
        except FetchError as exc:
            errors.append(exc.code)

    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    for _ in range(600):  # up to 60 s for the request to arrive, however busy the machine
        if web.requests_to("shop.sim.test", "/slow"):
            break
        time.sleep(0.1)
    assert web.requests_to("shop.sim.test", "/slow"), "the request never reached the server"
    web.stop()
    thread.join(timeout=120)
    assert not thread.is_alive(), "stop() left the response running"
    assert errors and errors != ["timeout"]  # the client saw the connection end, not its own patience run out
