"""The school's branding on certificates, badges and the verify page: its name, its logo (an
object in the certificates bucket, read once per container), who signs and two colours, all
settings. A logo that is set but missing, too large or not an image fails loudly, naming
BRAND_LOGO_KEY: a certificate is never issued quietly unbranded."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

from reussite.settings import get_settings

MAX_LOGO_BYTES = 512 * 1024
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class Branding:
    school: str
    colour: str  # "#rrggbb"
    accent: str
    signatory_name: str = ""
    signatory_title: str = ""
    logo: bytes | None = None
    logo_type: str = ""  # image/png or image/jpeg

    @staticmethod
    def rgb(colour: str) -> tuple[int, int, int]:
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)

    @property
    def logo_data_uri(self) -> str:
        """The logo inline (the verify page loads nothing from elsewhere)."""
        if self.logo is None:
            return ""
        return f"data:{self.logo_type};base64,{base64.b64encode(self.logo).decode()}"


class LogoUnusable(RuntimeError):
    """BRAND_LOGO_KEY names no usable image: a deployment error, not bad input."""


def logo_type(data: bytes) -> str:
    kind = next((t for sig, t in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise LogoUnusable("BRAND_LOGO_KEY must name a PNG or JPEG image")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoUnusable(f"BRAND_LOGO_KEY's image must be at most {MAX_LOGO_BYTES} bytes")
    return kind


@cache
def branding() -> Branding:
    """The deployment's branding, the logo fetched from the bucket on first use."""
    settings = get_settings()
    brand = Branding(
        school=settings.issuer_name,
        colour=settings.brand_colour,
        accent=settings.brand_accent,
        signatory_name=settings.signatory_name,
        signatory_title=settings.signatory_title,
    )
    if not settings.brand_logo_key:
        return brand
    from botocore.exceptions import ClientError

    from reussite.notifications import s3

    try:
        stored = s3().get_object(
            Bucket=settings.require("certificates_bucket"), Key=settings.brand_logo_key
        )
    except ClientError as exc:
        raise LogoUnusable(f"BRAND_LOGO_KEY names no readable object: {exc}") from exc
    data = stored["Body"].read(MAX_LOGO_BYTES + 1)
    return Branding(**{**brand.__dict__, "logo": data, "logo_type": logo_type(data)})


def reset() -> None:
    branding.cache_clear()
