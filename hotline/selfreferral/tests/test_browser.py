"""The self-referral page in a real browser (Chromium via Playwright, on loopback): the page's own
JavaScript hashes generated images and a generated video; its SHA-256 and MD5 equal Python's, its PDQ
is within 10 bits of the server's (printed), and no request the page makes carries a byte of a file.

Run with ``-s`` to see the distances and the time for a 12-megapixel JPEG.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hotline.core.tests.conftest import save_shot
from hotline.lib import pdq, video
from hotline.selfreferral.models import Referral, ReferralHash
from hotline.sim.images import make_image, make_video_stub

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]
MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
# (kind, seed, size): seed % 3 picks the pattern (1 shapes, 2 noise); plain gradients (0) are left out,
# their PDQ bits are rounding noise in any implementation (docs/pdq.md, "Degenerate images").
IMAGES = [("png", 1, (640, 480)), ("png", 2, (800, 600)), ("jpeg", 4, (1024, 768)), ("jpeg", 5, (640, 480)),
          ("png", 7, (333, 517)), ("webp", 8, (500, 400)), ("gif", 10, (300, 200)), ("jpeg", 11, (1600, 1200))]


# The same work as hashFile, step by step, to say where the time goes.
BREAKDOWN = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0)), H = window.HotlineHashing, out = {};
  let t = performance.now();
  await H.sha256(bytes.buffer); out.sha256 = performance.now() - t; t = performance.now();
  H.md5(bytes); out.md5 = performance.now() - t; t = performance.now();
  const bitmap = await createImageBitmap(new Blob([bytes], {type: 'image/jpeg'}),
                                         {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
  out.decode = performance.now() - t; t = performance.now();
  const canvas = document.createElement('canvas'); canvas.width = bitmap.width; canvas.height = bitmap.height;
  const context = canvas.getContext('2d', {willReadFrequently: true}); context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  out.pixels = performance.now() - t; t = performance.now();
  H.pdqFromRGBA(rgba, bitmap.width, bitmap.height); out.pdq = performance.now() - t;
  return out;
}"""


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _hash_in_page(tab: Any, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tab.goto("/remove-my-images/")
    tab.set_input_files("#selfreferral-files", files=payloads)
    tab.wait_for_selector("#selfreferral-form[data-ready=true]", timeout=300_000)
    files: list[dict[str, Any]] = json.loads(tab.input_value("input[name=hashes]"))
    timings = json.loads(tab.get_attribute("#selfreferral-form", "data-timings") or "[]")
    for hashed, ms in zip(files, timings, strict=True):
        hashed["ms"] = ms
    return files


def _photo_like(width: int, height: int, seed: int) -> bytes:
    """A synthetic 'photo': smooth colour fields, random shapes, +-6 noise, JPEG quality 90."""
    rng = random.Random(seed)
    base = Image.open(io.BytesIO(make_image("png", 1 + 3 * seed, size=(width // 8, height // 8))))
    pixels = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(-6, 7, size=pixels.shape, dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_the_page_hashes_images_like_the_server_and_sends_no_file(page: Any) -> None:
    datas = [make_image(kind, seed, size=size) for kind, seed, size in IMAGES]
    bodies: list[bytes] = []
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))
    files = _hash_in_page(page, [{"name": f"mine-{i}.{kind}", "mimeType": MIME[kind], "buffer": data}
                                 for i, ((kind, _, _), data) in enumerate(zip(IMAGES, datas, strict=True))])
    print("\nJS PDQ vs server PDQ (bits): kind seed size | fast path | full path | quality js/server | ms")
    for (kind, seed, size), data, hashed in zip(IMAGES, datas, files, strict=True):
        fast, full = pdq.hash_image_bytes(data), pdq.hash_image_bytes(data, fast=False)
        assert hashed["sha256"] == hashlib.sha256(data).hexdigest()
        assert hashed["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324
        near_fast, near_full = _distance(hashed["pdq"], fast.hex), _distance(hashed["pdq"], full.hex)
        print(f"  {kind:5} {seed:3} {size[0]}x{size[1]:<5} | {near_fast:3} | {near_full:3} | "
              f"{hashed['quality']}/{full.quality} | {hashed['ms']}")
        assert near_fast <= 10 and near_full <= 10, (kind, seed, size)
    page.check("#id_confirm_own")
    page.click("#selfreferral-send")
    code = page.text_content("#selfreferral-code") or ""
    assert code.startswith("SR-")
    save_shot(page, "selfreferral-code", full_page=True)
    posted = [b for b in bodies if b]
    assert len(posted) == 1 and len(posted[0]) < 20_000, [len(b) for b in posted]
    for data in datas:
        for start in range(0, len(data) - 64, max(64, len(data) // 16)):
            assert data[start:start + 64] not in posted[0]
    assert b"Content-Disposition: form-data; name=\"file" not in posted[0] and b"filename=" not in posted[0]
    referral = Referral.objects.get()
    assert ReferralHash.objects.filter(referral=referral, signal_type="pdq").count() >= 6


def test_the_page_hashes_video_frames_like_the_server(page: Any) -> None:
    data = make_video_stub(3, container="webm")
    files = _hash_in_page(page, [{"name": "mine.webm", "mimeType": "video/webm", "buffer": data}])
    assert files[0]["kind"] == "video" and files[0]["md5"] == hashlib.md5(data).hexdigest()  # noqa: S324
    server = video.vpdq_hashes(data)
    print("\nvideo frame PDQ, JS vs server (t, bits):", end="")
    assert files[0]["frames"], "no frame was hashed"
    for frame in files[0]["frames"]:
        nearest = min(server, key=lambda h: (abs(h.timestamp - frame["t"]), h.index))
        distance = _distance(frame["pdq"], nearest.hex)
        print(f" ({frame['t']}, {distance})", end="")
        assert distance <= 10, (frame, nearest)
    print()


def test_twelve_megapixels_hash_in_the_browser(page: Any) -> None:
    data = _photo_like(4000, 3000, 1)
    files = _hash_in_page(page, [{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": data}])
    fast = pdq.hash_image_bytes(data)
    distance = _distance(files[0]["pdq"], fast.hex)
    print(f"\n4000x3000 JPEG ({len(data) / 1e6:.1f} MB): {files[0]['ms']} ms in Chromium (SHA-256, MD5, decode, "
          f"PDQ), {distance} bits from the server, quality {files[0]['quality']}")
    assert distance <= 10
    steps = page.evaluate(BREAKDOWN, base64.b64encode(data).decode())
    print("  of which (ms): " + ", ".join(f"{name} {ms:.0f}" for name, ms in steps.items()))
