DROP INDEX webhook_events_unredacted_idx;
ALTER TABLE webhook_events DROP COLUMN redacted_at;
DROP INDEX outbox_published_at_idx;
ALTER TABLE outbox DROP COLUMN next_attempt_at;
