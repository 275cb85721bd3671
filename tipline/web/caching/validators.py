"""HTTP validators of public pages: the ETag and Last-Modified sent with each, and the headers
that let browsers and shared caches keep it.

The ETag is a digest of the content version, the URL, the language and the release (templates,
package version, the settings the pages print); Last-Modified is the content's newest change.
A conditional request that still matches gets a 304 without the view running.
"""

from __future__ import annotations

import contextlib
import hashlib
from importlib import metadata
from pathlib import Path

from flask import Flask, request
from werkzeug.http import http_date

from tipline import i18n
from tipline.notices.change_stamps import ContentVersion

PUBLIC_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
PRIVATE_CACHE_CONTROL = "private, no-cache"
VARY = "Accept-Language, Cookie"
#: A page whose language is named on its URL (``?lang=``) does not depend on the header.
VARY_EXPLICIT_LANGUAGE = "Cookie"

#: Settings printed on public pages: changing one must change every ETag.
RELEASE_SETTINGS = ("AGENCY_NAME", "EMERGENCY_NUMBER")


def release_stamp(app: Flask) -> str:
    """A digest of what, besides the content, shapes a public page on this release."""
    digest = hashlib.sha256()
    with contextlib.suppress(metadata.PackageNotFoundError):  # a plain checkout has none
        digest.update(metadata.version("tipline").encode())
    for name in RELEASE_SETTINGS:
        digest.update(f"{name}={app.config.get(name)!r};".encode())
    if app.template_folder:
        root = Path(app.root_path, app.template_folder)
        for path in sorted(root.rglob("*.html")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def etag(release: str, language: str, version: ContentVersion) -> str:
    source = "\n".join([release, request.full_path, language, version.stamp])
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def cache_headers(tag: str, version: ContentVersion, private: bool) -> dict[str, str]:
    headers = {
        "ETag": f'"{tag}"',
        "Cache-Control": PRIVATE_CACHE_CONTROL if private else PUBLIC_CACHE_CONTROL,
        "Vary": VARY_EXPLICIT_LANGUAGE if i18n.explicit_locale() else VARY,
    }
    if version.last_modified is not None:
        headers["Last-Modified"] = http_date(version.last_modified)
    return headers
