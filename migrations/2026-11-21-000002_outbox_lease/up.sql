-- A relay leases the rows it is publishing instead of holding row locks while
-- it waits for the broker: no connection is held across network I/O, and a
-- crashed relay's rows become claimable again when the lease expires.
ALTER TABLE outbox ADD COLUMN lease_until TIMESTAMPTZ;
