"""Schemathesis over the site's own OpenAPI document (``/api/v1/openapi.json``): generated
requests to each operation, every answer checked against the document.

Bounded (25 examples per operation and mode); TIPLINE_FUZZ_EXAMPLES=500 digs deeper. Driven by
hand with Hypothesis: schemathesis' pytest loader (from_fixture) reads a private pytest
attribute that pytest 9.2 removed, and the app only exists inside a fixture.
"""

from __future__ import annotations

import os

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

EXAMPLES = int(os.environ.get("TIPLINE_FUZZ_EXAMPLES", "25"))


def operations(app: Flask, prefix: str) -> list[APIOperation]:
    """The document's operations whose path starts with ``prefix``."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # ok() raises on an operation the loader could not read.
    found = [result.ok() for result in schema.get_all_operations()]
    return [o for o in found if o.path.startswith(prefix)]


def fuzz(
    operation: APIOperation, mode: GenerationMode, excluded_checks: list | None = None
) -> None:
    """Call ``operation`` with requests generated in ``mode`` and check every answer against
    the document (all built-in checks but ``excluded_checks``)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate(excluded_checks=excluded_checks)

    check()
