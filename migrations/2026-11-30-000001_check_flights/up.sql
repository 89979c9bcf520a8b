-- Single-flight provider checks: at most one check running and at most one
-- queued behind it per provider object, whatever the number of deliveries,
-- sweeps and replays asking for it, across every reconciler process.
-- (The gate, the pick, the finish and the safety nets: shared/src/db/flights.rs.)

-- Every queued check message carries a ticket from here: the message that is
-- "the queued check" is the one whose ticket the row holds.
CREATE SEQUENCE check_flight_tickets;

CREATE TABLE check_flights (
    provider       TEXT NOT NULL,
    object_type    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    -- The queued check (a message in the outbox, the broker or a delay queue):
    -- its ticket, since when, and until when it is trusted to still exist
    -- (a lost message must not block the object forever).
    queued_ticket  BIGINT,
    queued_at      TIMESTAMPTZ,
    queued_until   TIMESTAMPTZ,
    -- The running check: a lease, so a crashed process's check ends by itself.
    running_token  UUID,
    running_until  TIMESTAMPTZ,
    -- For operators: how much the gate saved.
    requests       BIGINT NOT NULL DEFAULT 0,
    coalesced      BIGINT NOT NULL DEFAULT 0,
    checks         BIGINT NOT NULL DEFAULT 0,
    last_finished_at TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, object_type, object_id),
    CHECK ((queued_ticket IS NULL) = (queued_at IS NULL) AND (queued_at IS NULL) = (queued_until IS NULL)),
    CHECK ((running_token IS NULL) = (running_until IS NULL))
);
-- Idle rows are pruned by age (sweeper).
CREATE INDEX check_flights_idle_idx ON check_flights (updated_at)
    WHERE queued_ticket IS NULL AND running_token IS NULL;

