"""Identity proofing: one-time codes by email and SMS, and patient matching."""
