-- Money movements the providers reported, one row each. A second distinct
-- movement for an order already paid is a duplicate payment.
CREATE TABLE settlements (
    id            BIGSERIAL PRIMARY KEY,
    provider      TEXT NOT NULL,
    settlement_id TEXT NOT NULL,
    order_id      UUID REFERENCES orders (id),
    amount_minor  BIGINT CHECK (amount_minor >= 0),
    currency      TEXT,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, settlement_id)
);
CREATE INDEX settlements_order_idx ON settlements (order_id);

-- Everything that reached reconciler.dead, archived by the reconciler so
-- operators can list and replay it (the queue itself is only the transport).
CREATE TABLE dead_letters (
    id           BIGSERIAL PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,
    routing_key  TEXT,
    body         BYTEA NOT NULL,
    provider     TEXT,
    object_type  TEXT,
    object_id    TEXT,
    reason       TEXT NOT NULL,
    error        TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    dead_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at  TIMESTAMPTZ,
    replay_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_pending_idx ON dead_letters (id) WHERE replayed_at IS NULL;

-- A Belvo transaction id is what its check is keyed by; find checks of an order's objects fast.
CREATE INDEX provider_checks_requested_idx ON provider_checks (requested_at);
