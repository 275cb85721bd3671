"""Images: peak memory and time of one request's photos, hostile against normal.

Not collected by pytest. From the top of the repository:

    .venv/bin/python -m tests.bench.bench_images

Each case runs in a fresh Python process (so its peak RSS, the kernel's VmHWM, is its own)
and cleans its photos the way a tip form does (``tipline.tips.attachments.clean_photos``):

- hostile: three 6300x6300 RGBA PNGs of one colour (about 56 KB each, 168 KB for the
  request), at today's limits and at the old 40-megapixel limit;
- near the limit: three 4000x4000 RGBA PNGs (16 MP, just inside today's limit);
- normal: three 4032x3024 phone-sized JPEGs of noise.

Prints one line per case: megabytes uploaded, outcome, seconds, peak RSS in MiB, and the
baseline (an idle process that imported the same modules).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CASE = textwrap.dedent(
    """
    import io, sys, time
    from pathlib import Path
    from PIL import Image
    from tipline.tips.attachments import PhotoLimits, PhotoRejected, clean_photos

    def rss():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raws = [Path(p).read_bytes() for p in sys.argv[2:]]
    base = rss()
    custom = sys.argv[1] != "default"
    limits = PhotoLimits(max_pixels=int(sys.argv[1])) if custom else PhotoLimits()
    start = time.perf_counter()
    try:
        clean_photos(raws, limits)
        outcome = "accepted"
    except PhotoRejected as error:
        outcome = "refused: " + str(error)[:48]
    took = time.perf_counter() - start
    size = sum(map(len, raws)) / 1024
    print(f"{size:.0f} KB|{outcome}|{took:.2f}|{rss():.0f}|{base:.0f}")
    """
)


def _png(size: int, path: str) -> str:
    Image.new("RGBA", (size, size), (0, 0, 0, 0)).save(path, "PNG", optimize=True)
    return path


def _jpeg(path: str) -> str:
    """A 12-megapixel phone-like photo: smooth gradients with sensor-like noise."""
    size = (4032, 3024)
    bands = [
        Image.blend(Image.linear_gradient("L").resize(size), Image.effect_noise(size, 40), 0.3)
        for _ in range(3)
    ]
    Image.merge("RGB", bands).save(path, "JPEG", quality=88)
    return path


def run(label: str, max_pixels: str, paths: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CASE, max_pixels, *paths], capture_output=True, text=True
    )
    if out.returncode:
        print(label, "failed:", out.stderr[-400:])
        return
    size, outcome, seconds, peak, base = out.stdout.strip().split("|")
    print(f"{label:<34} {size:>8}  {outcome:<58} {seconds:>6} s  peak {peak:>5} MiB (idle {base})")


if __name__ == "__main__":
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        hostile = _png(6300, f"{tmp}/hostile.png")
        near = _png(4000, f"{tmp}/near.png")
        normal = _jpeg(f"{tmp}/normal.jpg")
        run("hostile x3, today's limits", "default", [hostile] * 3)
        run("hostile x3, old 40 MP limit", "40000000", [hostile] * 3)
        run("4000x4000 RGBA x3 (at the limit)", "default", [near] * 3)
        run("normal phone JPEG x3", "default", [normal] * 3)
