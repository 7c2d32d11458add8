"""The one decode path under hostile and awkward images: refused before decoding when over the
memory budget, accepted (and right) when phones and scanners write them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from traygo.errors import ImageError
from traygo.images import decode, preprocess
from traygo.images.decode import DEFAULT_MAX_DECODE_BYTES, open_header, peak_bytes

from .hostile_images import (
    HOSTILE,
    encode,
    jpeg_claiming,
    mpo,
    noise,
    png16,
    png_bomb,
)

OVER_BUDGET = [
    "png_rgba_6000x6000",
    "png_la_6000x6000",
    "png_palette_alpha_6000x6000",
    "png_grey_6000x6000",
    "webp_rgba_6000x3000",
    "gif_palette_alpha_6000x6000",
    "jpeg_progressive_claims_12000x12000",
]


@pytest.mark.parametrize("name", OVER_BUDGET)
def test_bombs_are_refused_before_decoding(name: str) -> None:
    data = HOSTILE[name]()
    assert len(data) < 6 * 2**20
    for decoder in (preprocess, decode):  # the API's path and the scraper's/training's
        with pytest.raises(ImageError) as info:
            decoder(data)
        assert info.value.code == "too_large_to_decode"
        assert "MiB" in str(info.value)


def test_over_pillow_pixel_limit_is_refused() -> None:
    with pytest.raises(ImageError) as info:
        preprocess(HOSTILE["png_rgba_9000x9000_pillow_limit"]())
    assert info.value.code == "too_many_pixels"


def test_budget_counts_the_mode_really_decoded_to() -> None:
    # Pillow keeps RGB and LA at 4 bytes a pixel; a non-RGB image also needs its RGB copy.
    assert peak_bytes(open_header(png_bomb("RGB", 100, 100))) == 100 * 100 * 4
    assert peak_bytes(open_header(png_bomb("LA", 100, 100))) == 100 * 100 * 8
    assert peak_bytes(open_header(png_bomb("P", 100, 100, transparent=True))) == 100 * 100 * 5


def test_a_transparent_image_in_budget_is_flattened_onto_white() -> None:
    out = preprocess(HOSTILE["png_rgba_2800x2800_in_budget"]())
    assert out.shape == (180, 180, 3) and (out == 255).all()


def test_banded_conversion_equals_whole_conversion() -> None:
    rgba = noise(3000, 700, "RGBA", seed=3)  # > 1 MiB of RGB: converted in bands
    whole = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    expected = np.asarray(whole.convert("RGB").resize((180, 180), Image.Resampling.BILINEAR))
    assert np.array_equal(preprocess(encode(rgba, "PNG")), expected)


def test_a_huge_baseline_jpeg_is_decoded_at_a_scale_in_budget() -> None:
    data = jpeg_claiming(12000, 12000, progressive=False)
    assert preprocess(data).shape == (180, 180, 3)
    assert decode(data).size == (3000, 3000)  # 1/4 scale: the largest that fits the budget


def test_a_big_progressive_photo_within_budget_is_served() -> None:
    assert preprocess(HOSTILE["jpeg_progressive_3000x2000"]()).shape == (180, 180, 3)


def test_mpo_is_served_as_its_first_frame() -> None:
    first, second = noise(400, 300, seed=1), noise(400, 300, seed=2)
    data = mpo(first, second)
    assert decode(data).format == "JPEG"
    assert np.array_equal(preprocess(data), preprocess(encode(first, "JPEG", quality=90)))


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    out = preprocess(png16(ramp), size=(64, 64))
    assert np.array_equal(out[..., 0], (ramp >> 8).astype(np.uint8))
    assert out[0, 10, 0] < 255  # clipping would have made all but the darkest white


def test_16_bit_rgb_is_scaled() -> None:
    out = preprocess(png16(np.full((8, 8, 3), 40000, np.uint16)), size=(8, 8))
    assert (out == 40000 >> 8).all()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_files_are_refused(fmt: str) -> None:
    data = encode(noise(300, 200), fmt)
    with pytest.raises(ImageError) as info:
        preprocess(data[: len(data) // 2])
    assert info.value.code in ("truncated", "corrupt", "not_an_image")


def test_a_smaller_budget_is_honoured() -> None:
    data = png_bomb("RGB", 1000, 1000)
    assert preprocess(data).shape == (180, 180, 3)
    with pytest.raises(ImageError):
        preprocess(data, max_bytes=1000 * 1000 * 4 - 1)
    assert DEFAULT_MAX_DECODE_BYTES >= 1000 * 1000 * 4
