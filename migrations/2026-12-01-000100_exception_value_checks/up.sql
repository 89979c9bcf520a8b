-- The CSV report writes an order's provider, currency and state without the
-- formula neutralising the other cells get (shared/src/report/copy.rs): the
-- schema guarantees none of them can start a formula. An exception with no
-- order fills the same two columns from this table, so it gets the same rules
-- as orders. The product only ever writes a provider name and a currency code
-- here, so existing rows pass.
ALTER TABLE reconciliation_exceptions
    ADD CONSTRAINT reconciliation_exceptions_provider_check CHECK (provider ~ '^[a-z][a-z0-9_]{1,31}$'),
    ADD CONSTRAINT reconciliation_exceptions_currency_check CHECK (currency ~ '^[A-Z]{3}$');
