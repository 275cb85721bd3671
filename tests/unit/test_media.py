"""Uploaded images come out as pixels only: no EXIF, GPS, XMP, comment or trailing bytes."""

import io

import pytest
from PIL import Image

from tipline.media import ImageRejected, reencode

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    b'tiff:Make="SecretCam"/></rdf:RDF></x:xmpmeta>'
)


def jpeg_with_gps(size=(640, 480), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "Serial-12345"  # Software
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (29.0, 57.0, 5.0)
    gps[3] = "W"
    gps[4] = (90.0, 4.0, 30.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at 1234 Secret St", xmp=XMP)
    return out.getvalue() + b"TRAILING-SECRET"


def test_gps_exif_xmp_comment_and_trailing_data_are_removed():
    raw = jpeg_with_gps()
    before = Image.open(io.BytesIO(raw))
    assert before.getexif().get_ifd(0x8825)  # the fixture really carries GPS
    assert "comment" in before.info and "xmp" in before.info

    clean = reencode(raw)["original"]
    after = Image.open(io.BytesIO(clean.data))
    assert clean.mime == "image/jpeg" and after.format == "JPEG"
    assert (clean.width, clean.height) == (640, 480)
    assert dict(after.getexif()) == {}
    assert not ({"exif", "xmp", "comment", "icc_profile"} & set(after.info))
    for secret in [b"SecretCam", b"Serial-12345", b"Secret St", b"TRAILING-SECRET", b"Exif"]:
        assert secret not in clean.data


def test_orientation_is_applied_to_the_pixels_before_the_tag_is_dropped():
    clean = reencode(jpeg_with_gps((600, 200), orientation=6))["original"]  # rotate 90°
    assert (clean.width, clean.height) == (200, 600)


def test_variants_are_resized_to_their_longest_side():
    variants = reencode(jpeg_with_gps((2000, 1000)), sizes={"display": 1200, "thumb": 320})
    assert (variants["display"].width, variants["display"].height) == (1200, 600)
    assert (variants["thumb"].width, variants["thumb"].height) == (320, 160)


def test_png_keeps_transparency_and_loses_text_chunks():
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Location", "1234 Secret St")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=meta)
    clean = reencode(out.getvalue())["original"]
    after = Image.open(io.BytesIO(clean.data))
    assert clean.mime == "image/png" and after.mode == "RGBA"
    assert b"Secret St" not in clean.data


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the file was empty"),
        (b"GIF89a" + b"\x00" * 100, "not one we can open"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not one we can open"),
        (b"%PDF-1.4 not an image", "not one we can open"),
    ],
)
def test_anything_that_is_not_an_allowed_image_is_refused_plainly(raw, message):
    with pytest.raises(ImageRejected, match=message):
        reencode(raw)


def test_a_truncated_image_is_refused():
    with pytest.raises(ImageRejected, match="damaged"):
        reencode(jpeg_with_gps()[:400])


def test_size_and_pixel_limits():
    raw = jpeg_with_gps((3000, 3000))
    with pytest.raises(ImageRejected, match=r"under 0\.5 MB"):
        reencode(raw + b"\0" * (512 * 1024), max_bytes=512 * 1024)
    with pytest.raises(ImageRejected, match="3000×3000 pixels"):
        reencode(raw, max_pixels=4_000_000)


def test_a_decompression_bomb_is_refused_before_decoding():
    image = Image.new("1", (20000, 20000))
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(ImageRejected, match="too large"):
        reencode(out.getvalue())


def test_a_hostile_png_is_refused_from_its_header_before_decoding(monkeypatch):
    """Three 6300x6300 RGBA PNGs (tens of KB each) are refused by the tip limit without their
    pixels ever being decoded."""
    from tipline.tips.attachments import PhotoLimits, PhotoRejected, clean_photos

    out = io.BytesIO()
    Image.new("RGBA", (6300, 6300), (0, 0, 0, 0)).save(out, "PNG", optimize=True)
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1) or real_load(self))
    with pytest.raises(PhotoRejected, match="too large"):
        clean_photos([out.getvalue()] * 3, PhotoLimits())
    assert decoded == []


def test_a_large_jpeg_is_decoded_reduced_and_one_image_at_a_time(monkeypatch):
    from tipline import media

    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (90, 120, 150)).save(out, "JPEG")
    sizes = []
    real_load = Image.Image.load

    def load(self):
        assert not media._DECODING.acquire(blocking=False)  # held by reencode
        result = real_load(self)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", load)
    clean = media.reencode(out.getvalue(), sizes={"photo": 1000})["photo"]
    assert max(clean.width, clean.height) == 1000
    assert sizes and max(sizes[0]) <= 2000  # decoded at 1/2 scale, not 4000x3000
