//! One function per operation: validate, run the stores in one transaction, answer the
//! workflow error enum. `subscriptions` owns the subscription lifecycle, `quota` the usage
//! meters the engine reserves against, `provider` the payment providers.

pub mod definitions;
pub mod executions;
pub mod provider;
pub mod proxy;
pub mod quota;
pub mod subscriptions;
