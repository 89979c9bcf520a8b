//! Domain types that cannot hold invalid values.

pub mod document;
pub mod exception;
pub mod money;
pub mod order;
pub mod order_state;
pub mod provider;
pub mod reconcile;

pub use document::{Cc, DocumentError, Nit, PayerDocument};
pub use exception::ExceptionKind;
pub use money::{AmountError, AmountLimits, Currency, Money, RawAmount};
pub use order::{Email, NewOrder, Payer, Reference};
pub use order_state::OrderState;
pub use provider::Provider;
