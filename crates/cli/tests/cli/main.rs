//! The `castellan` binary, run as an operator runs it: real processes, real data directories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backup;
mod cluster;
mod common;
mod crash;
mod database_away;
mod first_contact;
mod logs;
mod operator;
mod outbox_backlog;
