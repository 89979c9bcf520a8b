-- POST /v1/payments: one row per merchant reference, written and committed
-- BEFORE the provider is called, so a crash or a timeout between the
-- provider's answer and our commit leaves a trace that the next request (or
-- the sweeper) completes with the provider's own idempotency instead of
-- creating a second payment. (States and invariants: docs/ARCHITECTURE.md,
-- "Payment attempts"; queries: shared/src/db/payments.rs.)
CREATE TABLE payment_attempts (
    id                  UUID PRIMARY KEY,
    reference           TEXT NOT NULL UNIQUE,
    provider            TEXT NOT NULL,
    -- SHA-256 of the canonical request: same hash = the same request again.
    request_hash        TEXT NOT NULL,
    -- The validated request (payer included: needed to call again), as stored for the order.
    request             JSONB NOT NULL,
    -- Mono: the x-idempotency-key (UUID v4); Tpaga: the order_id; Belvo: unused (the attempt id).
    idempotency_key     TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('calling', 'created', 'rejected', 'unknown', 'abandoned')),
    -- Belvo: the customer made by the first step, reused by every retry.
    provider_customer_id TEXT,
    -- Belvo: set (committed) just before the payment-link call. Belvo has no
    -- idempotency key, so a link call whose outcome is unknown is never repeated.
    link_requested      BOOLEAN NOT NULL DEFAULT false,
    provider_payment_id TEXT,
    payment_url         TEXT,
    -- The provider's refusal or the last failure, for people (never a secret).
    provider_error      TEXT,
    attempts            INT NOT NULL DEFAULT 0,
    -- Bumped each time a refused attempt's reference is used again; Tpaga's
    -- order_id is derived from (reference, generation).
    generation          INT NOT NULL DEFAULT 0,
    -- While a call is in flight no other request may call for this reference.
    lease_until         TIMESTAMPTZ,
    -- When the sweeper may next try to resolve a calling/unknown attempt.
    next_resolve_at     TIMESTAMPTZ,
    order_id            UUID REFERENCES orders (id),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((state = 'created') = (order_id IS NOT NULL))
);
CREATE INDEX payment_attempts_unresolved_idx ON payment_attempts (next_resolve_at)
    WHERE state IN ('calling', 'unknown');
