//! Dispute evidence: everything behind an order's state, as one self-checking
//! document. The API (`GET /v1/orders/{reference}/evidence`) and the CLI
//! (`reconciler evidence`) build it here, so both give the same bytes and the
//! same digest. Shape and digest rule: docs/ARCHITECTURE.md ("Evidence bundle").

mod canonical;
mod timeline;

use diesel::PgConnection;
use serde::Serialize;

use crate::db::DbError;
use crate::db::evidence::{self, OrderRecords};
pub use canonical::{DIGEST_ALGORITHM, Sealed, digest_of, verify};
pub use timeline::{Body, Entry};

/// Bumped when a field changes meaning, so a saved bundle says which rules it follows.
pub const FORMAT_VERSION: u32 = 1;

/// The bundle before sealing. Deliberately carries no "generated at": the same
/// records must always give the same digest, whoever asks and when.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub format_version: u32,
    pub order: OrderFacts,
    /// Every webhook, provider query, transition, exception and payment attempt,
    /// oldest first.
    pub timeline: Vec<Entry>,
    /// True when some kind of record passed the per-kind cap and was cut.
    pub truncated: bool,
}

/// The order as stored now, without the payer: the API never returns it
/// (SECURITY.md), and a dispute needs the provider's word, not the merchant's copy.
#[derive(Debug, Clone, Serialize)]
pub struct OrderFacts {
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    /// Integer minor units (centavos).
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub state: String,
    pub provider_status: Option<String>,
    pub provider_amount: Option<i64>,
    pub pse_cus: Option<String>,
    pub bank_code: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The sealed bundle of `reference`, or `None` when no such order exists.
pub fn gather(conn: &mut PgConnection, reference: &str) -> Result<Option<Sealed>, DbError> {
    let Some(records) = evidence::for_reference(conn, reference)? else {
        return Ok(None);
    };
    Ok(Some(Sealed::new(assemble(records))))
}

fn assemble(r: OrderRecords) -> Bundle {
    let o = &r.order;
    let order = OrderFacts {
        reference: o.reference.clone(),
        provider: o.provider.clone(),
        provider_payment_id: o.provider_payment_id.clone(),
        amount: o.amount_minor,
        currency: o.currency.clone(),
        description: o.description.clone(),
        state: o.state.clone(),
        provider_status: o.provider_status.clone(),
        provider_amount: o.provider_amount_minor,
        pse_cus: o.pse_cus.clone(),
        bank_code: o.bank_code.clone(),
        created_at: timeline::instant(o.created_at),
        updated_at: timeline::instant(o.updated_at),
    };
    Bundle {
        format_version: FORMAT_VERSION,
        order,
        truncated: r.truncated,
        timeline: timeline::build(&r),
    }
}
