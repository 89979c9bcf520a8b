DROP TABLE reconciliation_exceptions;
DROP TABLE order_events;
DROP FUNCTION order_events_append_only();
DROP TABLE provider_checks;
DROP TABLE outbox;
DROP TABLE webhook_events;
DROP TABLE orders;
