"""Images from outside (tip photos, notice photos): decoded, checked, rebuilt from pixels.

Nothing of the uploaded file survives except its pixels: EXIF (GPS, camera serial), XMP, ICC
profiles, comments and any trailing data are gone because the output is encoded from a new
image that never saw them. Used by tips (attachments) and notices (photos).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from flask_babel import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

#: What we accept, by the format Pillow detects from the bytes (never the file name).
ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class ImageRejected(ValueError):
    """The upload is not an image we accept; the message is fit to show the uploader."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.mime]


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def open_checked(raw: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode ``raw`` fully, refusing anything too big or not a JPEG, PNG or WebP image."""
    # Messages in the request's language (English outside a request and on staff pages).
    if len(raw) > max_bytes:
        raise ImageRejected(
            gettext(
                "The photo must be a JPEG, PNG or WebP image under %(size)s.",
                size=_megabytes(max_bytes),
            )
        )
    if not raw:
        raise ImageRejected(
            gettext("The photo must be a JPEG, PNG or WebP image; the file was empty.")
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=list(ALLOWED_FORMATS))
            if image.width * image.height > max_pixels:
                raise ImageRejected(
                    gettext(
                        "The photo is too large (%(width)d×%(height)d pixels). "
                        "Please send one of at most %(megapixels)d megapixels.",
                        width=image.width,
                        height=image.height,
                        megapixels=max_pixels // 1_000_000,
                    )
                )
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            gettext(
                "The photo is too large in pixels. "
                "Please send one of at most %(megapixels)d megapixels.",
                megapixels=max_pixels // 1_000_000,
            )
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            gettext(
                "The photo must be a JPEG, PNG or WebP image. This file is not one we can open."
            )
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageRejected(
            gettext("The photo must be a JPEG, PNG or WebP image. This file seems damaged.")
        ) from None
    return image


def _from_pixels(image: Image.Image, keep_alpha: bool) -> Image.Image:
    """A brand-new image holding only the pixels (turned upright per EXIF orientation)."""
    upright = ImageOps.exif_transpose(image)
    if getattr(image, "n_frames", 1) > 1:
        upright.seek(0)  # animations keep their first frame only
    wanted = "RGBA" if keep_alpha and upright.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    if upright.mode == "L" and wanted == "RGB":
        wanted = "L"
    converted = upright.convert(wanted)
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


def _encode(image: Image.Image, mime: str) -> CleanImage:
    out = io.BytesIO()
    if mime == "image/jpeg":
        image.convert("RGB" if image.mode != "L" else "L").save(
            out, "JPEG", quality=85, optimize=True
        )
    elif mime == "image/png":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=85)
    return CleanImage(out.getvalue(), mime, image.width, image.height)


def reencode(
    raw: bytes,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    sizes: dict[str, int] | None = None,
) -> dict[str, CleanImage]:
    """Check and rebuild an uploaded image, returning clean variants by name.

    ``sizes`` maps a variant name to the longest side in pixels (0 keeps the original size),
    for example ``{"display": 1200, "thumb": 320}``. The default is ``{"original": 0}``.
    JPEG stays JPEG; PNG and WebP keep their format (and transparency).
    Raises ImageRejected with a message for the uploader.
    """
    image = open_checked(raw, max_bytes, max_pixels)
    mime = ALLOWED_FORMATS[image.format or ""]
    clean = _from_pixels(image, keep_alpha=mime != "image/jpeg")
    variants = {}
    for name, longest in (sizes or {"original": 0}).items():
        variant = clean.copy()
        if longest and max(variant.size) > longest:
            variant.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        variants[name] = _encode(variant, mime)
    return variants
