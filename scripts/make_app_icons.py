"""Draw the drivers' app icons as PNG (192 and 512 px) for install prompts that want
bitmaps (the manifest also lists the SVG, ``api/static/icon.svg``, which they copy).

Usage: ``.venv/bin/python scripts/make_app_icons.py`` (Pillow; writes api/static/).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parents[1] / "api" / "static"
BROWN = (124, 45, 18, 255)
WHITE = (255, 255, 255, 255)


def icon(size: int) -> Image.Image:
    """The SVG icon's shapes (a 96-unit canvas) at ``size`` pixels."""
    k = size / 96.0
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, size - 1, size - 1), radius=round(20 * k), fill=BROWN)
    d.rectangle((18 * k, 34 * k, 56 * k, 60 * k), fill=WHITE)  # the box
    d.polygon(
        [(56 * k, 41 * k), (68 * k, 41 * k), (77 * k, 50 * k), (77 * k, 60 * k), (56 * k, 60 * k)],
        fill=WHITE,
    )  # the cab
    for cx in (31, 66):  # the wheels
        r, w = 7 * k, 3 * k
        d.ellipse(
            (cx * k - r, 64 * k - r, cx * k + r, 64 * k + r),
            fill=WHITE,
            outline=BROWN,
            width=max(1, round(w)),
        )
    return img


def main() -> None:
    for size in (192, 512):
        icon(size).save(STATIC / f"icon-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
