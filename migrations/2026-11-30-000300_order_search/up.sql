-- The finance console finds an order by its provider payment id or PSE CUS alone
-- (shared/src/db/orders/search.rs); the (provider, provider_payment_id) key cannot
-- serve a lookup without the provider, and pse_cus had no index at all.
CREATE INDEX orders_provider_payment_id_idx ON orders (provider_payment_id);
CREATE INDEX orders_pse_cus_idx ON orders (pse_cus) WHERE pse_cus IS NOT NULL;
