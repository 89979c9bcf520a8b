//! Belvo's in-memory customers, payment links, payment intents and transactions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::validate::{NewCustomer, NewLink};
use super::webhooks;
use super::wire::{Customer, PaymentIntent, PaymentLink, STATUSES, Transaction};
use crate::admin_api::FoundPayment;
use crate::ids;
use crate::money;
use crate::registry::{Outgoing, Refusal, StatusMoved};

/// The API user every object is `created_by` (one fixed sandbox user).
const SANDBOX_USER: &str = "62053a72-e2d5-4c95-a578-6b16616900ac";
/// The merchant's bank account used for intents made through the admin API.
const SANDBOX_BENEFICIARY: &str = "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc";
/// Belvo documents `failure_code`/`failure_message` but not their values; the sandbox's choice.
pub const FAILURE_CODE: &str = "payment_rejected";
pub const FAILURE_MESSAGE: &str = "The payer's bank rejected the payment.";

#[derive(Debug, Default)]
pub struct Store {
    customers: HashMap<String, Customer>,
    links: HashMap<String, PaymentLink>,
    intents: HashMap<String, PaymentIntent>,
    /// Payment intent ids in creation order, so lookups by reference answer oldest first.
    order: Vec<String>,
    transactions: HashMap<String, Transaction>,
}

/// Belvo amounts are whole pesos: centavos that are not a multiple of 100 cannot be shown.
fn whole_pesos_amount(minor: i64, what: &str) -> Result<i64, Refusal> {
    if minor > 0 && money::whole_pesos(minor).is_some() {
        Ok(minor)
    } else {
        Err(Refusal::Invalid(format!(
            "{what} must be a positive multiple of 100 (Belvo amounts are whole pesos)"
        )))
    }
}

/// Upper-cases and checks a status (Belvo has been seen in both cases).
pub fn normalise_status(status: &str) -> Result<String, Refusal> {
    let upper = status.to_ascii_uppercase();
    if STATUSES.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(Refusal::Invalid(format!(
            "{status:?} is not a Belvo payment intent status ({})",
            STATUSES.join(", ")
        )))
    }
}

impl Store {
    pub fn create_customer(&mut self, c: NewCustomer) -> Customer {
        let customer = Customer {
            id: ids::uuid(),
            created_at: ids::micros_z(Utc::now()),
            created_by: SANDBOX_USER.to_owned(),
            customer_type: c.customer_type,
            name: c.name,
            address: c.address,
            country: c.country,
            email: c.email,
            phone: c.phone,
            identifier: c.identifier,
            identifier_type: c.identifier_type,
        };
        self.customers.insert(customer.id.clone(), customer.clone());
        customer
    }

    /// The link and its payment intent; `None` when the customer does not exist.
    pub fn create_link(&mut self, l: NewLink) -> Option<PaymentLink> {
        if !self.customers.contains_key(&l.customer) {
            return None;
        }
        let now = Utc::now();
        let intent = self.new_intent(
            l.amount_minor,
            l.customer,
            l.description,
            l.beneficiary,
            l.metadata,
            now,
        );
        let token = ids::alnum(43);
        let link = PaymentLink {
            id: ids::uuid(),
            created_at: ids::micros_z(now),
            created_by: SANDBOX_USER.to_owned(),
            payment_url: format!("https://pay.belvo.io/{token}"),
            payment_intent: intent,
            access_token: token,
            callback_urls: l.callback_urls,
            updated_at: ids::micros_z(now),
            status: "ACTIVE".to_owned(),
            expires_in: l.expires_in,
            expires_at: ids::micros_z(now + l.lifetime),
        };
        self.links.insert(link.id.clone(), link.clone());
        Some(link)
    }

    pub fn intent(&self, id: &str) -> Option<&PaymentIntent> {
        self.intents.get(id)
    }

    pub fn transaction(&self, id: &str) -> Option<&Transaction> {
        self.transactions.get(id)
    }

    fn new_intent(
        &mut self,
        amount_minor: i64,
        customer: String,
        description: String,
        beneficiary: String,
        metadata: Value,
        now: DateTime<Utc>,
    ) -> String {
        let pi = PaymentIntent {
            id: ids::uuid(),
            status: "REQUIRES_PAYMENT_METHOD".to_owned(),
            amount_minor,
            currency: "COP".to_owned(),
            failure_code: None,
            failure_message: None,
            metadata,
            charges: Vec::new(),
            customer,
            created_at: ids::micros_z(now),
            updated_at: ids::micros_z(now),
            description,
            beneficiary,
        };
        let id = pi.id.clone();
        self.order.push(id.clone());
        self.intents.insert(id.clone(), pi);
        id
    }

    /// A payment intent made through the admin API (with its own sandbox customer).
    pub fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        whole_pesos_amount(amount_minor, "amount_minor")?;
        let customer = self.create_customer(NewCustomer {
            customer_type: "INDIVIDUAL".to_owned(),
            country: "COL".to_owned(),
            name: "Sandbox Payer".to_owned(),
            email: "payer@example.com".to_owned(),
            identifier_type: "CC".to_owned(),
            identifier: "1018760936".to_owned(),
            address: None,
            phone: None,
        });
        let metadata = match reference {
            Some(r) => json!({"reference": r}),
            None => json!({}),
        };
        let id = self.new_intent(
            amount_minor,
            customer.id,
            "Sandbox payment".to_owned(),
            SANDBOX_BENEFICIARY.to_owned(),
            metadata,
            Utc::now(),
        );
        Ok((id, "REQUIRES_PAYMENT_METHOD".to_owned()))
    }

    /// Records an INFLOW transaction for `pi_id`; returns its id and its `TRANSACTIONS` webhook.
    pub fn add_transaction(
        &mut self,
        pi_id: &str,
        amount_minor: Option<i64>,
    ) -> Result<(String, Outgoing), Refusal> {
        let pi = self.intents.get(pi_id).ok_or(Refusal::NotFound)?;
        let amount_minor =
            whole_pesos_amount(amount_minor.unwrap_or(pi.amount_minor), "amount_minor")?;
        let transaction = Transaction {
            id: ids::uuid(),
            created_at: ids::micros_offset(Utc::now()),
            created_by: SANDBOX_USER.to_owned(),
            amount_minor,
            currency: "COP".to_owned(),
            description: pi.description.clone(),
            transaction_type: "INFLOW".to_owned(),
            beneficiary: pi.beneficiary.clone(),
            payer: json!({"bank_account": ids::uuid()}),
            payment_intent: pi.id.clone(),
            customer: pi.customer.clone(),
        };
        let event = webhooks::transaction_created(&transaction.id)?;
        let id = transaction.id.clone();
        self.transactions.insert(id.clone(), transaction);
        Ok((id, event))
    }

    /// Moves a payment intent to `status`: its `STATUS_UPDATE` webhook and, on a move into
    /// `SUCCEEDED`, the new INFLOW transaction and its `TRANSACTIONS` webhook.
    pub fn set_status(
        &mut self,
        id: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<StatusMoved, Refusal> {
        let status = normalise_status(status)?;
        if let Some(amount) = reported_amount_minor {
            whole_pesos_amount(amount, "reported_amount_minor")?;
        }
        let pi = self.intents.get_mut(id).ok_or(Refusal::NotFound)?;
        let entering_success = status == "SUCCEEDED" && pi.status != "SUCCEEDED";
        pi.status.clone_from(&status);
        pi.updated_at = ids::micros_z(Utc::now());
        if let Some(amount) = reported_amount_minor {
            pi.amount_minor = amount;
        }
        let failed = status == "FAILED";
        pi.failure_code = failed.then(|| FAILURE_CODE.to_owned());
        pi.failure_message = failed.then(|| FAILURE_MESSAGE.to_owned());
        let mut events = vec![webhooks::status_update(pi, &status)?];
        let mut transaction_id = None;
        if entering_success {
            let (tid, event) = self.add_transaction(id, None)?;
            transaction_id = Some(tid);
            events.push(event);
        }
        Ok(StatusMoved {
            events,
            status,
            transaction_id,
        })
    }

    /// A `STATUS_UPDATE` claiming `claimed` (default: the real status) without changing anything.
    pub fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        let pi = self.intents.get(id).ok_or(Refusal::NotFound)?;
        let status = match claimed {
            Some(s) => normalise_status(s)?,
            None => pi.status.clone(),
        };
        let mut shown = pi.clone();
        if status == "FAILED" && shown.failure_code.is_none() {
            shown.failure_code = Some(FAILURE_CODE.to_owned());
            shown.failure_message = Some(FAILURE_MESSAGE.to_owned());
        }
        webhooks::status_update(&shown, &status)
    }

    /// The payment intents whose `metadata.reference` is `reference`, oldest first.
    pub fn find(&self, reference: &str) -> Vec<FoundPayment> {
        self.order
            .iter()
            .filter_map(|id| self.intents.get(id))
            .filter(|pi| pi.metadata.get("reference").and_then(Value::as_str) == Some(reference))
            .map(|pi| FoundPayment {
                provider: "belvo".to_owned(),
                provider_payment_id: pi.id.clone(),
                status: pi.status.clone(),
                amount_minor: pi.amount_minor,
                reference: reference.to_owned(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_creates_one_transaction_and_serialises_pesos() {
        let mut store = Store::default();
        assert!(store.admin_create(10_000_050, None).is_err());
        let (id, _) = store
            .admin_create(10_000_000, Some("ORD-7".to_owned()))
            .unwrap();
        assert_eq!(store.find("ORD-7")[0].provider_payment_id, id);
        let moved = store.set_status(&id, "succeeded", None).unwrap();
        assert_eq!(moved.events.len(), 2);
        let tid = moved.transaction_id.unwrap();
        let t = serde_json::to_value(&store.transactions[&tid]).unwrap();
        assert_eq!(t["amount"], "100000");
        assert_eq!(t["payment_intent"], id.as_str());
        let pi = serde_json::to_value(&store.intents[&id]).unwrap();
        assert_eq!(pi["amount"], 100_000);
        assert_eq!(pi["status"], "SUCCEEDED");
        // Already SUCCEEDED: no second transaction.
        let moved = store.set_status(&id, "SUCCEEDED", None).unwrap();
        assert_eq!((moved.events.len(), moved.transaction_id), (1, None));
        assert_eq!(store.set_status(&id, "DONE", None).unwrap_err(), Refusal::Invalid(
            "\"DONE\" is not a Belvo payment intent status (REQUIRES_PAYMENT_METHOD, REQUIRES_ACTION, PROCESSING, SUCCEEDED, FAILED)".to_owned()
        ));
    }
}
