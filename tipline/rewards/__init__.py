"""Crime Stoppers rewards: outcomes, the two-person decision, payout codes, the ledger."""
