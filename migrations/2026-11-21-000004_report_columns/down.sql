DROP TRIGGER reconciliation_exceptions_flag_order ON reconciliation_exceptions;
DROP FUNCTION orders_flag_exception();
ALTER TABLE orders DROP COLUMN has_exceptions;
DROP INDEX order_events_day_idx;
CREATE INDEX order_events_at_idx ON order_events (at);
ALTER TABLE order_events DROP COLUMN order_created_at;
ALTER TABLE orders DROP COLUMN last_webhook_at;
