from __future__ import annotations

from hotline.lib.http import fetch
from hotline.sim.web import SimWeb


def test_wildcard_hosts_default_ports_and_catch_all_serve_the_demo_web() -> None:
    with SimWeb(suffixes=(".sim.test",), catch_all=True) as sim:
        policy = sim.fetch_policy(port_map={80: sim.port})
        page = fetch("http://any-name-42.sim.test/album/7/photo?id=3", policy=policy)
        assert page.status_code == 200 and b"any-name-42.sim.test" in page.body
        assert fetch("http://any-name-42.sim.test/status/404?id=1", policy=policy).status_code == 404
        media = fetch("http://other-site.sim.test/media/png-4.png", policy=policy)
        assert media.body.startswith(b"\x89PNG")
    with SimWeb() as plain:
        policy = plain.fetch_policy()
        assert fetch(plain.url("shop.sim.test", "/album/7"), policy=policy).status_code == 404


def test_the_port_map_never_applies_to_public_addresses() -> None:
    from ipaddress import ip_address

    from hotline.lib.http import _Deadline, _PinnedBackend

    public = _PinnedBackend("example.org", [ip_address("93.184.216.34")], _Deadline(1), {80: 8123})
    loopback = _PinnedBackend("demo.sim.test", [ip_address("127.0.0.1")], _Deadline(1), {80: 8123})
    assert public._port_map == {} and loopback._port_map == {80: 8123}
