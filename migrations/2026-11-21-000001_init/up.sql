-- Foundation schema. Constraints do the guarding: anything the application
-- would refuse, the database refuses too.

CREATE TABLE orders (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    reference           TEXT NOT NULL UNIQUE
                        CHECK (reference ~ '^[A-Za-z0-9._:-]{1,64}$'),
    provider            TEXT NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{1,31}$'),
    provider_payment_id TEXT NOT NULL CHECK (length(provider_payment_id) BETWEEN 1 AND 255),
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    currency            TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    description         TEXT CHECK (length(description) <= 255),
    payer               JSONB,
    -- sha256 of the canonical creation request: same hash = same request (idempotent replay).
    request_hash        TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'processing', 'paid', 'failed', 'expired', 'needs_review')),
    provider_status     TEXT,
    pse_cus             TEXT,
    bank_code           TEXT,
    provider_amount_minor BIGINT,
    last_checked_at     TIMESTAMPTZ,
    next_check_at       TIMESTAMPTZ,
    check_count         INTEGER NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_payment_id)
);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_state_created_idx ON orders (state, created_at DESC);
CREATE INDEX orders_next_check_idx ON orders (next_check_at)
    WHERE state IN ('pending', 'processing', 'expired');

-- The inbox: every accepted webhook delivery, raw, exactly as received.
CREATE TABLE webhook_events (
    id                BIGSERIAL PRIMARY KEY,
    provider          TEXT NOT NULL,
    dedup_key         TEXT NOT NULL CHECK (length(dedup_key) BETWEEN 1 AND 512),
    event_type        TEXT NOT NULL,
    object_id         TEXT,
    body              BYTEA NOT NULL,
    headers           JSONB NOT NULL DEFAULT '{}'::jsonb,
    auth_result       TEXT NOT NULL,
    -- false for event types the product stores but does not act on.
    actionable        BOOLEAN NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivery_count    INTEGER NOT NULL DEFAULT 1 CHECK (delivery_count >= 1),
    last_delivered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    picked_at         TIMESTAMPTZ,
    processed_at      TIMESTAMPTZ,
    outcome           TEXT,
    UNIQUE (provider, dedup_key)
);
CREATE INDEX webhook_events_object_idx ON webhook_events (provider, object_id);

-- Messages to publish, written in the same transaction as the state they announce.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    exchange     TEXT NOT NULL CHECK (exchange IN ('events', 'orders')),
    routing_key  TEXT NOT NULL,
    message_id   TEXT NOT NULL UNIQUE,
    payload      JSONB NOT NULL,
    headers      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- Every provider re-query and what it answered.
CREATE TABLE provider_checks (
    id               BIGSERIAL PRIMARY KEY,
    provider         TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    order_id         UUID REFERENCES orders (id),
    webhook_event_id BIGINT REFERENCES webhook_events (id),
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    status_code      INTEGER,
    response_body    TEXT,
    error            TEXT,
    latency_ms       INTEGER NOT NULL CHECK (latency_ms >= 0),
    requested_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX provider_checks_object_idx ON provider_checks (provider, object_id, requested_at);
CREATE INDEX provider_checks_order_idx ON provider_checks (order_id, requested_at);

-- Append-only history of state changes (from_state is NULL for the creation row).
CREATE TABLE order_events (
    id               BIGSERIAL PRIMARY KEY,
    order_id         UUID NOT NULL REFERENCES orders (id),
    from_state       TEXT CHECK (from_state IN ('pending', 'processing', 'paid', 'failed', 'expired', 'needs_review')),
    to_state         TEXT NOT NULL CHECK (to_state IN ('pending', 'processing', 'paid', 'failed', 'expired', 'needs_review')),
    cause            TEXT NOT NULL,
    provider_status  TEXT,
    webhook_event_id BIGINT REFERENCES webhook_events (id),
    at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);
CREATE INDEX order_events_at_idx ON order_events (at);

CREATE FUNCTION order_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_events is append-only';
END;
$$;
CREATE TRIGGER order_events_no_update BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_events_append_only();

CREATE TABLE reconciliation_exceptions (
    id                    BIGSERIAL PRIMARY KEY,
    order_id              UUID REFERENCES orders (id),
    provider              TEXT NOT NULL,
    provider_payment_id   TEXT,
    kind                  TEXT NOT NULL CHECK (kind IN ('amount_mismatch', 'unknown_payment', 'duplicate_payment',
                                                        'status_conflict', 'late_success', 'stale_pending',
                                                        'provider_error')),
    detail                TEXT NOT NULL,
    -- Identifies "the same discrepancy": re-processing an event never opens it twice.
    dedup_key             TEXT NOT NULL,
    expected_amount_minor BIGINT,
    provider_amount_minor BIGINT,
    currency              TEXT,
    opened_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at           TIMESTAMPTZ,
    resolved_by           TEXT,
    resolution_note       TEXT,
    CHECK ((resolved_at IS NULL) = (resolved_by IS NULL))
);
CREATE UNIQUE INDEX reconciliation_exceptions_dedup_idx ON reconciliation_exceptions (dedup_key);
CREATE INDEX reconciliation_exceptions_order_idx ON reconciliation_exceptions (order_id);
CREATE INDEX reconciliation_exceptions_opened_idx ON reconciliation_exceptions (opened_at);
CREATE INDEX reconciliation_exceptions_open_idx ON reconciliation_exceptions (kind) WHERE resolved_at IS NULL;
