// Mirrors migrations/; `db::tests::schema_matches_migrations` loads every column to catch drift.

diesel::table! {
    orders (id) {
        id -> Uuid,
        reference -> Text,
        provider -> Text,
        provider_payment_id -> Text,
        amount_minor -> Int8,
        currency -> Text,
        description -> Nullable<Text>,
        payer -> Nullable<Jsonb>,
        request_hash -> Text,
        state -> Text,
        provider_status -> Nullable<Text>,
        pse_cus -> Nullable<Text>,
        bank_code -> Nullable<Text>,
        provider_amount_minor -> Nullable<Int8>,
        last_checked_at -> Nullable<Timestamptz>,
        next_check_at -> Nullable<Timestamptz>,
        check_count -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_webhook_at -> Nullable<Timestamptz>,
        has_exceptions -> Bool,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Int8,
        provider -> Text,
        dedup_key -> Text,
        event_type -> Text,
        object_id -> Nullable<Text>,
        body -> Bytea,
        headers -> Jsonb,
        auth_result -> Text,
        actionable -> Bool,
        received_at -> Timestamptz,
        delivery_count -> Int4,
        last_delivered_at -> Timestamptz,
        picked_at -> Nullable<Timestamptz>,
        processed_at -> Nullable<Timestamptz>,
        outcome -> Nullable<Text>,
        redacted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        exchange -> Text,
        routing_key -> Text,
        message_id -> Text,
        payload -> Jsonb,
        headers -> Jsonb,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        next_attempt_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    provider_checks (id) {
        id -> Int8,
        provider -> Text,
        object_id -> Text,
        order_id -> Nullable<Uuid>,
        webhook_event_id -> Nullable<Int8>,
        method -> Text,
        path -> Text,
        status_code -> Nullable<Int4>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        latency_ms -> Int4,
        requested_at -> Timestamptz,
    }
}

diesel::table! {
    order_events (id) {
        id -> Int8,
        order_id -> Uuid,
        from_state -> Nullable<Text>,
        to_state -> Text,
        cause -> Text,
        provider_status -> Nullable<Text>,
        webhook_event_id -> Nullable<Int8>,
        at -> Timestamptz,
        order_created_at -> Timestamptz,
    }
}

diesel::table! {
    reconciliation_exceptions (id) {
        id -> Int8,
        order_id -> Nullable<Uuid>,
        provider -> Text,
        provider_payment_id -> Nullable<Text>,
        kind -> Text,
        detail -> Text,
        dedup_key -> Text,
        expected_amount_minor -> Nullable<Int8>,
        provider_amount_minor -> Nullable<Int8>,
        currency -> Nullable<Text>,
        opened_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
    }
}

diesel::table! {
    settlements (id) {
        id -> Int8,
        provider -> Text,
        settlement_id -> Text,
        order_id -> Nullable<Uuid>,
        amount_minor -> Nullable<Int8>,
        currency -> Nullable<Text>,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Int8,
        message_id -> Text,
        routing_key -> Nullable<Text>,
        body -> Bytea,
        provider -> Nullable<Text>,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        reason -> Text,
        error -> Nullable<Text>,
        attempts -> Int4,
        dead_at -> Timestamptz,
        replayed_at -> Nullable<Timestamptz>,
        replay_count -> Int4,
    }
}

diesel::table! {
    check_flights (provider, object_type, object_id) {
        provider -> Text,
        object_type -> Text,
        object_id -> Text,
        queued_ticket -> Nullable<Int8>,
        queued_at -> Nullable<Timestamptz>,
        queued_until -> Nullable<Timestamptz>,
        running_token -> Nullable<Uuid>,
        running_until -> Nullable<Timestamptz>,
        requests -> Int8,
        coalesced -> Int8,
        checks -> Int8,
        last_finished_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    payment_attempts (id) {
        id -> Uuid,
        reference -> Text,
        provider -> Text,
        request_hash -> Text,
        request -> Jsonb,
        idempotency_key -> Text,
        state -> Text,
        provider_customer_id -> Nullable<Text>,
        link_requested -> Bool,
        provider_payment_id -> Nullable<Text>,
        payment_url -> Nullable<Text>,
        provider_error -> Nullable<Text>,
        attempts -> Int4,
        generation -> Int4,
        lease_until -> Nullable<Timestamptz>,
        next_resolve_at -> Nullable<Timestamptz>,
        order_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(payment_attempts -> orders (order_id));
diesel::joinable!(reconciliation_exceptions -> orders (order_id));
diesel::joinable!(provider_checks -> orders (order_id));

diesel::allow_tables_to_appear_in_same_query!(
    orders,
    webhook_events,
    outbox,
    provider_checks,
    order_events,
    reconciliation_exceptions,
    settlements,
    dead_letters,
    check_flights,
    payment_attempts,
);
