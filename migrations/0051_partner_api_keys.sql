-- Lobbie clients send an `x-api-key` on every call; with SLOTPROOF_REQUIRE_API_KEY it must be
-- the client's key (stored as an HMAC under the server key, shown once by create-client).
ALTER TABLE partner_clients ADD COLUMN api_key_hash text;
