"""Badge images (Pillow, from the certificate worker's layer) and baking: an achievement's image
in the school's colours with its logo, and the same image carrying a learner's signed
credential as Open Badges 3.0's baking section says for PNG: one `iTXt` chunk, keyword
`openbadgecredential`, uncompressed, whose text is the compact JWS. Imported only by the
badge routes."""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

from reussite.certificates.branding import Branding, branding

SIZE = 400
KEYWORD = b"openbadgecredential"
_FONT = str(resources.files("reussite.certificates.fonts") / "DejaVuSans.ttf")


def _wrapped(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont) -> list[str]:
    """`text` in lines that fit the badge's inner width, at most three (the last shortened)."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= SIZE * 0.7:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > 3:
        lines = [*lines[:2], lines[2] + "…"]
    return lines


@lru_cache(maxsize=64)
def image(qualification: str, level: str) -> bytes:
    """The achievement's badge as a PNG: a disc in the school's colour ringed in its accent,
    the logo, the qualification and its level, the school's name."""
    brand: Branding = branding()
    badge = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(badge)
    draw.ellipse((6, 6, SIZE - 6, SIZE - 6), fill=brand.rgb(brand.colour))
    draw.ellipse((6, 6, SIZE - 6, SIZE - 6), outline=brand.rgb(brand.accent), width=14)
    top = 70
    if brand.logo:
        logo = Image.open(io.BytesIO(brand.logo)).convert("RGBA")
        logo.thumbnail((150, 80))
        badge.alpha_composite(logo, ((SIZE - logo.width) // 2, top))
        top += logo.height + 14
    else:
        top += 30
    title = ImageFont.truetype(_FONT, 30)
    small = ImageFont.truetype(_FONT, 20)
    for line in _wrapped(draw, qualification, title):
        draw.text((SIZE / 2, top), line, font=title, fill="white", anchor="ma")
        top += 38
    draw.text((SIZE / 2, top + 6), level, font=small, fill="white", anchor="ma")
    draw.text((SIZE / 2, SIZE - 80), brand.school[:40], font=small, fill="white", anchor="ma")
    out = io.BytesIO()
    badge.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def baked(png: bytes, credential: str) -> bytes:
    """`png` with `credential` (a compact JWS) in an uncompressed iTXt `openbadgecredential`
    chunk just before IEND: keyword, NUL, compression flag 0, method 0, no language tag, no
    translated keyword, the text."""
    assert png.endswith(_chunk(b"IEND", b"")), "a whole PNG"
    nul, flag, method, language, translated = b"\x00", b"\x00", b"\x00", b"", b""
    text = KEYWORD + nul + flag + method + language + nul + translated + nul
    text += credential.encode("utf-8")
    return png[:-12] + _chunk(b"iTXt", text) + png[-12:]
