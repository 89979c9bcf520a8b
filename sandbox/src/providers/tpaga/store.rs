//! Tpaga's in-memory charges and live access tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::validate::NewCharge;
use super::webhooks;
use super::wire::{Charge, FINAL_STATUSES, STATUSES};
use crate::admin_api::FoundPayment;
use crate::ids;
use crate::registry::{Outgoing, Refusal};

#[derive(Debug, Default)]
pub struct Store {
    charges: HashMap<String, Charge>,
    /// Charge tokens in creation order, so lookups by order id answer oldest first.
    order: Vec<String>,
    /// Access token → when it stops working.
    tokens: HashMap<String, Instant>,
    pub tokens_issued: u64,
}

fn new_charge(c: NewCharge) -> Charge {
    Charge {
        token: format!("pse-{}", ids::hex(32)),
        order_id: c.order_id,
        amount_minor: c.amount_minor,
        vat_amount_minor: c.vat_amount_minor,
        description: c.description,
        user_type: c.user_type,
        bank_code: c.bank_code,
        status: "pending".to_owned(),
        buyer_email: c.buyer_email,
        buyer_full_name: c.buyer_full_name,
        document_type: c.document_type,
        document_number: c.document_number,
        redirect_url: c.redirect_url,
        traceability_code: ids::digits(7),
        return_code: Some("SUCCESS".to_owned()),
        bank_url: Some(format!(
            "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={}",
            ids::alnum(44)
        )),
        transaction_state: None,
        rejected_reason: None,
    }
}

fn check_status(status: &str) -> Result<(), Refusal> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "{status:?} is not a Tpaga charge status ({})",
            STATUSES.join(", ")
        )))
    }
}

impl Store {
    /// Stores a new charge; `Err` with the existing one's order id when a charge with that
    /// `order_id` exists (Tpaga's 408 "already exists").
    pub fn create(&mut self, request: NewCharge) -> Result<Charge, String> {
        if self
            .charges
            .values()
            .any(|c| c.order_id == request.order_id)
        {
            return Err(request.order_id);
        }
        let charge = new_charge(request);
        self.order.push(charge.token.clone());
        self.charges.insert(charge.token.clone(), charge.clone());
        Ok(charge)
    }

    pub fn get(&self, token: &str) -> Option<&Charge> {
        self.charges.get(token)
    }

    /// Issues an access token valid for `ttl`, forgetting expired ones.
    pub fn issue_token(&mut self, token: String, ttl: Duration) {
        let now = Instant::now();
        self.tokens.retain(|_, expires| *expires > now);
        self.tokens.insert(token, now + ttl);
        self.tokens_issued += 1;
    }

    pub fn token_is_live(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    /// Whether `token` was live (and is now revoked).
    pub fn revoke(&mut self, token: &str) -> bool {
        self.tokens.remove(token).is_some()
    }

    /// A `pending` charge made through the admin API. `reference` becomes `order_id`.
    pub fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        let order_id = reference.unwrap_or_else(|| format!("sbx-{}", ids::hex(12)));
        if order_id.is_empty() || order_id.chars().count() > 20 {
            return Err(Refusal::Invalid(
                "reference must be 1 to 20 characters (Tpaga order_id)".to_owned(),
            ));
        }
        let charge = self
            .create(NewCharge {
                order_id,
                amount_minor,
                vat_amount_minor: 0,
                description: "Sandbox payment".to_owned(),
                user_type: "NATURAL".to_owned(),
                bank_code: "1022".to_owned(),
                buyer_email: "payer@example.com".to_owned(),
                buyer_full_name: "Sandbox Payer".to_owned(),
                document_type: "CC".to_owned(),
                document_number: "1018760936".to_owned(),
                redirect_url: "https://merchant.example/return".to_owned(),
            })
            .map_err(|order_id| {
                Refusal::Invalid(format!("a charge with order_id {order_id:?} exists"))
            })?;
        Ok((charge.token, charge.status))
    }

    /// Moves a charge to `status` (the traceability code is kept); returns the webhook
    /// when the status is final.
    pub fn set_status(
        &mut self,
        token: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<Option<Outgoing>, Refusal> {
        check_status(status)?;
        let charge = self.charges.get_mut(token).ok_or(Refusal::NotFound)?;
        charge.status = status.to_owned();
        if let Some(amount) = reported_amount_minor {
            charge.amount_minor = amount;
        }
        // The docs name these fields but not their values per status; the sandbox's choice,
        // using ACH Colombia's own states (OK, NOT_AUTHORIZED, PENDING, FAILED).
        let (transaction_state, rejected_reason) = match status {
            "authorized" | "settled" => (Some("OK"), None),
            "charge-rejected" => (
                Some("NOT_AUTHORIZED"),
                Some("Transacción no concluída en el banco"),
            ),
            "rejected" => (Some("FAILED"), Some("Transacción rechazada por PSE")),
            "failed" => (Some("FAILED"), None),
            _ => (None, None),
        };
        charge.transaction_state = transaction_state.map(str::to_owned);
        charge.rejected_reason = rejected_reason.map(str::to_owned);
        if FINAL_STATUSES.contains(&status) {
            Ok(Some(webhooks::event(token)?))
        } else {
            Ok(None)
        }
    }

    /// A webhook for `token` whatever its status (`claimed` is only checked: the body carries
    /// nothing but the token).
    pub fn forged(&self, token: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        if let Some(status) = claimed {
            check_status(status)?;
        }
        if !self.charges.contains_key(token) {
            return Err(Refusal::NotFound);
        }
        webhooks::event(token)
    }

    /// Makes every issued access token invalid; returns how many were live.
    pub fn revoke_all(&mut self) -> usize {
        let n = self.tokens.len();
        self.tokens.clear();
        n
    }

    pub fn status_of(&self, token: &str) -> Option<&str> {
        self.charges.get(token).map(|c| c.status.as_str())
    }

    /// The charges whose `order_id` is `order_id` (at most one: Tpaga refuses a second).
    pub fn find(&self, order_id: &str) -> Vec<FoundPayment> {
        self.order
            .iter()
            .filter_map(|t| self.charges.get(t))
            .filter(|c| c.order_id == order_id)
            .map(|c| FoundPayment {
                provider: "tpaga".to_owned(),
                provider_payment_id: c.token.clone(),
                status: c.status.clone(),
                amount_minor: c.amount_minor,
                reference: c.order_id.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_statuses_send_webhooks() {
        let mut s = Store::default();
        let (token, status) = s.admin_create(1_000_000, None).unwrap();
        assert_eq!(status, "pending");
        assert!(token.starts_with("pse-") && token.len() == 36);
        assert!(s.set_status(&token, "failed", None).unwrap().is_none());
        assert!(
            s.set_status(&token, "settled", Some(999_900))
                .unwrap()
                .is_some()
        );
        let c = serde_json::to_value(&s.charges[&token]).unwrap();
        assert_eq!(c["amount"], "9999.00");
        assert_eq!(c["transaction_state"], "OK");
        assert!(s.set_status(&token, "paid", None).is_err());
        assert!(s.admin_create(1, Some("x".repeat(21))).is_err());
    }

    #[test]
    fn one_charge_per_order_id() {
        let mut s = Store::default();
        let (token, _) = s.admin_create(1_000_000, Some("ORD-9".to_owned())).unwrap();
        assert!(s.admin_create(1_000_000, Some("ORD-9".to_owned())).is_err());
        let found = s.find("ORD-9");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].provider_payment_id, token);
    }
}
