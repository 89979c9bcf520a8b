DROP INDEX IF EXISTS orders_pse_cus_idx;
DROP INDEX IF EXISTS orders_provider_payment_id_idx;
