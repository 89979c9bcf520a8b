-- A row whose publish failed waits until next_attempt_at (growing with
-- attempts) instead of being re-leased at once in a tight loop.
ALTER TABLE outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;

-- Retention deletes published rows by age, in small batches.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Retention removes a webhook's raw body and headers (PII) after the evidence
-- period but keeps the row: order_events (append-only) points at it, and the
-- dedup key and outcome stay useful for audits.
ALTER TABLE webhook_events ADD COLUMN redacted_at TIMESTAMPTZ;
CREATE INDEX webhook_events_unredacted_idx ON webhook_events (received_at) WHERE redacted_at IS NULL;
