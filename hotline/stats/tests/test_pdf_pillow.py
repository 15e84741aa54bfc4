"""Typesetting a PDF must not change how the rest of the process reads images."""

from __future__ import annotations

import pytest


def test_loading_weasyprint_leaves_truncated_images_refused() -> None:
    """WeasyPrint's import turns on Pillow's LOAD_TRUNCATED_IMAGES for the whole process; ours turns it off again,
    so a worker that once typeset a report still refuses a truncated capture."""
    from PIL import ImageFile

    from hotline.lib import pdq
    from hotline.sim.images import make_truncated
    from hotline.stats import pdf

    pdf.available()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(pdq.ImageError):
        pdq.hash_image_bytes(make_truncated("png", 3))
