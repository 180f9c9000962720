"""Webhooks out (contract "Webhooks out"): partner endpoints, Standard Webhooks signing, and a
dispatcher that fans `events` rows out to deliveries and posts them at least once."""
