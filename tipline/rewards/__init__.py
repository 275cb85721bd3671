"""Crime Stoppers rewards: outcomes, the two-person decision, payout codes, the ledger."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the rewards' hooks: `tipline audit verify` checks reward rows against their
    audit events."""
    from tipline.audit import verify
    from tipline.rewards import ledger

    verify.register_check("rewards", ledger.check_against_audit)
