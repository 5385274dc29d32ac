//! The tracker client: lookups that believe no tracker, announce/release against a real
//! tracker, and an identity moving to another relay without losing a message.

mod conflict;
mod fake;
mod hostile;
mod migration;
mod onboarding;
mod real;
mod review;
