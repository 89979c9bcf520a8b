ALTER TABLE reconciliation_exceptions
    DROP CONSTRAINT reconciliation_exceptions_currency_check,
    DROP CONSTRAINT reconciliation_exceptions_provider_check;
