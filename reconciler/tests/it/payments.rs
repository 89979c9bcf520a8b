//! The sweeper settles payment attempts whose outcome is unknown, against the
//! sandbox's Mono, Belvo and Tpaga create endpoints.

use shared::db::payments;
use shared::domain::{Currency, Provider};
use shared::providers::create::{PaymentPayer, PaymentRequest, PersonType};

use crate::harness::{Options, stack_with};

fn request(reference: &str, provider: Provider) -> PaymentRequest {
    PaymentRequest {
        reference: reference.to_owned(),
        provider,
        amount_minor: 10_000_000,
        currency: Currency::Cop,
        description: Some("Invoice".to_owned()),
        payer: PaymentPayer {
            document_type: "CC".to_owned(),
            document_number: "1033711400".to_owned(),
            email: "ana@example.com".to_owned(),
            name: "Ana Restrepo".to_owned(),
            phone: "3000000000".to_owned(),
            person_type: PersonType::Natural,
        },
        bank_code: Some("1022".to_owned()),
        payer_ip: Some("88.221.182.60".to_owned()),
        redirect_url: "https://shop.example/done".to_owned(),
    }
}

/// An attempt recorded and then left as a crashed process leaves it: `calling`,
/// its lease and its resolve time already past.
fn crashed(conn: &mut diesel::PgConnection, req: &PaymentRequest) {
    let key = |reference: &str, generation: i32| match req.provider {
        Provider::Tpaga => shared::providers::tpaga::create::order_id(reference, generation),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let zero = chrono::Duration::zero();
    let begun = payments::begin(conn, req, &key, zero, zero).unwrap();
    assert!(matches!(begun, payments::Begin::Call(_)), "{begun:?}");
}

#[tokio::test]
async fn the_sweeper_completes_mono_and_tpaga_attempts_and_abandons_belvo_links() {
    let stack = stack_with(Options {
        extra: &[
            ("MONO_ACCOUNT_ID", "acc_5tgliBmzjZ6mpQPRbQjfKj"),
            (
                "BELVO_BENEFICIARY_ACCOUNT",
                "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc",
            ),
        ],
        ..Options::default()
    })
    .await;
    let mut conn = stack.db.connect();
    crashed(&mut conn, &request("SWP-M1", Provider::Mono));
    crashed(&mut conn, &request("SWP-T1", Provider::Tpaga));
    let belvo = request("SWP-B1", Provider::Belvo);
    crashed(&mut conn, &belvo);
    let b = payments::find(&mut conn, "SWP-B1").unwrap().unwrap();
    payments::save_customer(&mut conn, b.id, "00000000-0000-4000-8000-000000000001").unwrap();
    payments::mark_link_requested(&mut conn, b.id).unwrap();
    crashed(&mut conn, &request("SWP-B2", Provider::Belvo));

    let resolved = reconciler::attempts::resolve_due(stack.ctx())
        .await
        .unwrap();
    assert_eq!(
        resolved,
        reconciler::attempts::Resolved {
            created: 2,
            rejected: 1,
            abandoned: 1,
            still_unknown: 0
        }
    );
    for reference in ["SWP-M1", "SWP-T1"] {
        let order = stack.find(reference);
        assert_eq!(order.state, "pending");
        let attempt = payments::find(&mut conn, reference).unwrap().unwrap();
        assert_eq!(attempt.state, "created");
        assert_eq!(
            attempt.provider_payment_id.as_deref(),
            Some(order.provider_payment_id.as_str())
        );
    }
    assert_eq!(
        payments::find(&mut conn, "SWP-B1").unwrap().unwrap().state,
        "abandoned"
    );
    assert_eq!(
        payments::find(&mut conn, "SWP-B2").unwrap().unwrap().state,
        "rejected"
    );
    // The sweeper's create calls are evidence too, linked to the order, scrubbed.
    for (reference, path) in [
        ("SWP-M1", "/v1/collection_intents"),
        ("SWP-T1", "/api/pse/v1/public/charge"),
    ] {
        let records = shared::db::evidence::for_reference(&mut conn, reference)
            .unwrap()
            .unwrap();
        let create = records
            .checks
            .iter()
            .find(|c| c.path == path)
            .unwrap_or_else(|| panic!("{reference}: no create call in {:?}", records.checks));
        assert!(matches!(create.status_code, Some(200..=299)), "{create:?}");
        let body = create.response_body.as_deref().unwrap_or_default();
        for hidden in ["1033711400", "ana@example.com"] {
            assert!(!body.contains(hidden), "{reference}: {hidden} in {body}");
        }
    }
    let exceptions = stack.exceptions("provider_error");
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert!(exceptions[0].1.contains("SWP-B1"), "{exceptions:?}");
    // Settled attempts are not touched again.
    let again = reconciler::attempts::resolve_due(stack.ctx())
        .await
        .unwrap();
    assert_eq!(again, reconciler::attempts::Resolved::default());
    let created = stack
        .ctx()
        .metrics
        .payments_created
        .with_label_values(&["mono", "created"])
        .get();
    assert_eq!(created, 1);
}
