"""Images from outside (tip photos, notice photos): decoded, checked, rebuilt from pixels.

Nothing of the uploaded file survives except its pixels: EXIF (GPS, camera serial), XMP, ICC
profiles, comments and any trailing data are gone because the output is encoded from a new
image that never saw them. Used by tips (attachments) and notices (photos).

Bounded in memory and time (a 56 KB PNG can decode to 160 MB of pixels):

- the size in pixels is read from the header and checked before anything is decoded;
- a JPEG larger than the largest variant is decoded reduced (``Image.draft``: the decoder
  skips detail by a power of two), and any other image is reduced by an integer factor right
  after decoding, before the colour conversion and the resampling make their copies;
- one image at a time per process (``_DECODING``): three hostile photos in one request, or
  requests in several threads, never hold their pixels at once.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from flask_babel import gettext
from PIL import Image, ImageOps, UnidentifiedImageError

#: One image decoded at a time in this process (see the module docstring).
_DECODING = threading.BoundedSemaphore(1)

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


def open_checked(raw: bytes, max_bytes: int, max_pixels: int, max_side: int = 0) -> Image.Image:
    """Decode ``raw``, refusing anything too big or not a JPEG, PNG or WebP image. With
    ``max_side``, a larger image is decoded (JPEG) or reduced (others) to about that size."""
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
            image: Image.Image = Image.open(io.BytesIO(raw), formats=list(ALLOWED_FORMATS))
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
            if max_side and image.format == "JPEG" and max(image.size) > max_side:
                # Decode at 1/2, 1/4 or 1/8 scale, never smaller than max_side.
                image.draft(image.mode, (max_side, max_side))
            image.load()
            if (
                max_side
                and max(image.size) >= 2 * max_side
                and not getattr(image, "is_animated", False)
            ):
                fmt = image.format
                image = image.reduce(max(image.size) // max_side)
                image.format = fmt
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
    converted = upright.convert(wanted) if upright.mode != wanted else upright
    # A new image with only the pixels (no info, no EXIF), without a bytes copy in between.
    clean = Image.new(converted.mode, converted.size)
    clean.paste(converted)
    return clean


def _encode(image: Image.Image, mime: str) -> CleanImage:
    out = io.BytesIO()
    if mime == "image/jpeg":
        image.convert("RGB" if image.mode != "L" else "L").save(
            out, "JPEG", quality=85, optimize=True
        )
    elif mime == "image/png":
        # No optimize: its extra passes cost seconds on a large image for a few percent.
        image.save(out, "PNG")
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
    wanted = sizes or {"original": 0}
    # Decode only as much as the largest variant needs (0 keeps the original size).
    largest = 0 if 0 in wanted.values() else max(wanted.values())
    with _DECODING:
        image = open_checked(raw, max_bytes, max_pixels, largest)
        mime = ALLOWED_FORMATS[image.format or ""]
        if largest and max(image.size) > largest and getattr(image, "n_frames", 1) == 1:
            # Down to the largest variant before the copies below (info, EXIF included, is
            # kept for the orientation).
            scale = largest / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        clean = _from_pixels(image, keep_alpha=mime != "image/jpeg")
        del image
        variants = {}
        for name, longest in wanted.items():
            variant = clean.copy() if len(wanted) > 1 else clean
            if longest and max(variant.size) > longest:
                variant.thumbnail((longest, longest), Image.Resampling.LANCZOS)
            variants[name] = _encode(variant, mime)
        return variants
