//! Mono's in-memory intents: what create stores, what the admin API moves, and the
//! `x-idempotency-key` index that makes a retried create return the first intent.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::validate::CreateRequest;
use super::webhooks;
use super::wire::{CollectionIntent, Money, Payment, STATES};
use crate::admin_api::FoundPayment;
use crate::ids;
use crate::registry::{Outgoing, Refusal};

/// Sandbox choice (Mono's docs give no example text): the reason put in
/// `payment.provider_message` when an intent fails.
pub const FAILURE_MESSAGE: &str = "Transacción rechazada por la entidad financiera";

#[derive(Debug, Default)]
pub struct Store {
    intents: HashMap<String, CollectionIntent>,
    /// `x-idempotency-key` → intent id.
    idempotency: HashMap<String, String>,
    /// Intent ids in creation order, so lookups by reference answer oldest first.
    order: Vec<String>,
}

fn new_intent(req: CreateRequest, now: DateTime<Utc>) -> CollectionIntent {
    // Microsecond timestamps: the seed shows whole seconds, but two changes within
    // one second would then share `updated_at`, which receivers use to deduplicate.
    let at = ids::micros_z(now);
    CollectionIntent {
        account_id: req.account_id,
        amount: Money {
            amount: req.amount,
            currency: "COP".to_owned(),
        },
        bank_code: req.bank_code,
        id: format!("cint_{}", ids::alnum(22)),
        inserted_at: at.clone(),
        ip: req.ip,
        note: req.note,
        payer: req.payer,
        payment: Payment {
            provider: "pse".to_owned(),
            transaction_id: ids::digits(10),
            url: format!(
                "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={}",
                ids::alnum(32)
            ),
            provider_message: None,
        },
        // "Will only be true if the system allows it": the sandbox never does.
        realtime_transfer: false,
        redirect_url: req.redirect_url,
        reference: req.reference,
        state: "created".to_owned(),
        updated_at: at,
    }
}

fn check_state(state: &str) -> Result<(), Refusal> {
    if STATES.contains(&state) {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "{state:?} is not a Mono state ({})",
            STATES.join(", ")
        )))
    }
}

impl Store {
    /// Stores a new intent, or returns the one an earlier create with the same
    /// idempotency key made.
    pub fn create(&mut self, request: CreateRequest, key: Option<String>) -> CollectionIntent {
        if let Some(existing) = key
            .as_ref()
            .and_then(|k| self.idempotency.get(k))
            .and_then(|id| self.intents.get(id))
        {
            return existing.clone();
        }
        let intent = new_intent(request, Utc::now());
        if let Some(k) = key {
            self.idempotency.insert(k, intent.id.clone());
        }
        self.order.push(intent.id.clone());
        self.intents.insert(intent.id.clone(), intent.clone());
        intent
    }

    pub fn get(&self, id: &str) -> Option<&CollectionIntent> {
        self.intents.get(id)
    }

    /// An intent created through the admin API, as if a merchant had called create.
    pub fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> (String, String) {
        let request = CreateRequest {
            account_id: format!("acc_{}", ids::alnum(22)),
            amount: amount_minor,
            bank_code: "1007".to_owned(),
            ip: "127.0.0.1".to_owned(),
            note: None,
            payer: json!({
                "document_number": "1099711789",
                "document_type": "CC",
                "email": "payer@example.com",
                "name": "Sandbox Payer",
                "person_type": "natural",
                "phone_number": "+573000000000",
            }),
            redirect_url: "https://merchant.example/return".to_owned(),
            reference,
        };
        let intent = self.create(request, None);
        (intent.id, intent.state)
    }

    /// Moves an intent to `state`; returns the webhook the move triggers, if any.
    pub fn set_state(
        &mut self,
        id: &str,
        state: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<Option<Outgoing>, Refusal> {
        check_state(state)?;
        let intent = self.intents.get_mut(id).ok_or(Refusal::NotFound)?;
        let now = Utc::now();
        intent.state = state.to_owned();
        intent.updated_at = ids::micros_z(now);
        intent.payment.provider_message = (state == "failed").then(|| FAILURE_MESSAGE.to_owned());
        if let Some(amount) = reported_amount_minor {
            intent.amount.amount = amount;
        }
        let Some(kind) = webhooks::event_type(state) else {
            return Ok(None);
        };
        Ok(Some(webhooks::event(kind, intent, now)?))
    }

    /// A webhook whose body claims `claimed` (default: the real state) without changing the intent.
    /// States that have no documented event use `collection_intent_updated`, a type the
    /// receiver must accept and ignore.
    pub fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        let intent = self.intents.get(id).ok_or(Refusal::NotFound)?;
        let mut shown = intent.clone();
        if let Some(state) = claimed {
            check_state(state)?;
            shown.state = state.to_owned();
            if state == "failed" && shown.payment.provider_message.is_none() {
                shown.payment.provider_message = Some(FAILURE_MESSAGE.to_owned());
            }
        }
        let kind = webhooks::event_type(&shown.state).unwrap_or("collection_intent_updated");
        webhooks::event(kind, &shown, Utc::now())
    }

    pub fn state_of(&self, id: &str) -> Option<&str> {
        self.intents.get(id).map(|i| i.state.as_str())
    }

    /// The intents whose `reference` is `reference`, oldest first.
    pub fn find(&self, reference: &str) -> Vec<FoundPayment> {
        self.order
            .iter()
            .filter_map(|id| self.intents.get(id))
            .filter(|i| i.reference.as_deref() == Some(reference))
            .map(|i| FoundPayment {
                provider: "mono".to_owned(),
                provider_payment_id: i.id.clone(),
                status: i.state.clone(),
                amount_minor: i.amount.amount,
                reference: reference.to_owned(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::validate::valid_id;
    use super::*;

    #[test]
    fn state_changes_trigger_the_documented_events() {
        let mut store = Store::default();
        let (id, state) = store.admin_create(10_000_000, Some("ORD-1".to_owned()));
        assert_eq!(state, "created");
        assert!(valid_id(&id));
        assert_eq!(store.find("ORD-1").len(), 1);
        assert!(store.find("ORD-2").is_empty());
        assert!(store.set_state(&id, "in_progress", None).unwrap().is_none());
        let out = store.set_state(&id, "failed", None).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["event"]["type"], "collection_intent_failed");
        assert_eq!(
            v["event"]["data"]["payment"]["provider_message"],
            FAILURE_MESSAGE
        );
        assert_eq!(store.set_state(&id, "paid", None), Err(Refusal::Invalid(
            "\"paid\" is not a Mono state (created, in_progress, approved_in_provider, account_credited, failed)".to_owned()
        )));
        assert_eq!(
            store.set_state("cint_x", "failed", None),
            Err(Refusal::NotFound)
        );
    }
}
