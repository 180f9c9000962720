-- Holds placed through the widget remember who asked (a keyed hash of the client address, never
-- the address) and which publishable key's setting, so live holds can be capped per client and
-- per key (app/attempts/holds.py). Partner holds leave both NULL.
ALTER TABLE holds
    ADD COLUMN client_hash text,
    ADD COLUMN widget_setting_id bigint REFERENCES self_scheduling_settings(id) ON DELETE CASCADE;
CREATE INDEX holds_client_idx ON holds (client_hash, expires_at) WHERE client_hash IS NOT NULL;
CREATE INDEX holds_widget_setting_idx ON holds (widget_setting_id, expires_at)
    WHERE widget_setting_id IS NOT NULL;
