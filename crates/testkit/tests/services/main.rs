//! Service tests: the domain driven through `Core` alone — no server, no HTTP, no SQL. Each test
//! builds a core on a fresh `MemoryStore` with a `FakeClock` that moves only when told, so
//! lockouts, token lifetimes, key retirement and code expiry are tested without sleeping, and
//! races are run on real threads against the store's atomic operations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod hosted;
mod key_otp;
mod keys;
mod lockout;
mod otp_login;
mod refresh;
mod yielding;
