//! The storage contract suite: every method of every storage trait, held to what its doc comment
//! promises (single winners under concurrency, refused replays, expiry, ordering, conflicts that
//! name their field, tenant isolation). Each check is written once, as a function of a fresh
//! store, and [`contract_tests!`](crate::contract_tests) makes one test per check for an
//! [`Engine`]: `crates/store/tests/contract/` runs them on SQLite, PostgreSQL and
//! [`MemoryStore`](crate::MemoryStore).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod admin_tokens;
pub mod applications;
pub mod audit;
pub mod challenges;
pub mod factors;
/// Rows to store, shared with the engines' own tests.
pub mod fixtures;
pub mod hosted;
pub mod key_otps;
pub mod keys;
pub mod lockout;
pub mod oidc;
pub mod outbox;
pub mod passkeys;
pub mod sessions;
pub mod tenants;
pub mod text;
pub mod users;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use castellan_core::store::Store;

/// A kind of store the suite runs on.
#[async_trait]
pub trait Engine: Send + Sized {
    /// A fresh, empty store of this engine; `None` when the engine is not available here (the
    /// engine says so, and its checks pass without running).
    async fn open() -> Option<Self>;
    fn store(&self) -> Arc<dyn Store>;
    /// Releases what `open` made, once a check has passed.
    async fn close(self) {}
}

/// The memory store as an [`Engine`].
pub struct Memory(Arc<crate::MemoryStore>);

#[async_trait]
impl Engine for Memory {
    async fn open() -> Option<Self> {
        Some(Memory(Arc::new(crate::MemoryStore::new())))
    }
    fn store(&self) -> Arc<dyn Store> {
        self.0.clone()
    }
}

/// Runs one check on a fresh store of `E`.
pub async fn run<E, F, Fut>(check: F)
where
    E: Engine,
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(engine) = E::open().await else { return };
    check(engine.store()).await;
    engine.close().await;
}

/// One `#[tokio::test]` per contract check, on the [`Engine`] named by an absolute path:
/// `mod sqlite { castellan_testkit::contract_tests!(crate::Sqlite); }` gives
/// `sqlite::users::a_unique_violation_names_the_field_that_clashed` and so on.
#[macro_export]
macro_rules! contract_tests {
    ($engine:ty) => {
        $crate::contract_tests!(@each $engine;
            tenants: [
                tenants_round_trip_and_list_by_slug,
                an_update_rewrites_what_a_tenant_may_change_and_nothing_else,
                deleting_a_tenant_removes_everything_it_owns_and_nothing_else,
                the_store_answers_a_ping,
            ],
            applications: [
                applications_are_found_by_id_client_id_and_alias_within_their_tenant,
                an_application_update_keeps_its_client_id_kind_and_creation_time,
                application_keys_clash_by_field_across_tenants,
                api_keys_resolve_until_revoked_and_the_newest_prefix_shows,
                callback_secrets_belong_to_one_application_of_one_tenant,
                sealed_client_secrets_belong_to_one_application_and_can_be_forgotten,
                deleting_an_application_removes_everything_it_owns,
            ],
            users: [
                users_are_found_by_id_identifier_and_uin_within_their_tenant,
                a_unique_violation_names_the_field_that_clashed,
                an_update_moves_the_identifiers_and_their_skeletons,
                listed_users_are_filtered_ordered_by_creation_and_limited,
                a_password_hash_is_replaced_only_while_it_is_the_expected_one,
                deleting_a_user_removes_its_factors_challenges_sessions_codes_and_verifications,
            ],
            lockout: [
                lockout_reservations_stop_at_the_threshold_and_expire,
                a_success_clears_the_counter_unless_later_attempts_locked_the_subject,
                concurrent_attempts_never_slip_past_the_threshold,
                locked_until_reports_a_running_lock_and_counts_nothing,
            ],
            factors: [
                a_totp_factor_is_replaced_enabled_and_deleted_within_its_tenant,
                a_totp_step_is_accepted_once_and_never_an_older_one,
                application_totp_factors_belong_to_one_application_and_user,
                an_application_totp_step_is_accepted_once_and_never_an_older_one,
            ],
            passkeys: [
                credentials_are_unique_per_tenant_listed_renamed_and_deleted_by_their_user,
                a_credential_use_is_recorded_only_when_its_counter_moves_forward,
                a_ceremony_is_taken_once_within_its_tenant_and_not_after_it_expires,
                recovery_codes_are_replaced_whole_and_each_spent_once,
            ],
            challenges: [
                challenges_are_found_by_id_by_secret_and_located_across_tenants,
                a_challenge_is_consumed_once_while_unexpired_with_tries_left,
                a_challenge_code_is_reissued_once_and_not_after_it_is_spent,
                spending_a_users_challenges_spends_only_that_kind,
            ],
            key_otps: [
                key_codes_freeze_at_the_limit_and_are_spent_once,
                the_latest_code_of_a_key_is_found_across_tenants_pending_first,
                a_new_code_sweeps_away_long_dead_codes_of_other_keys,
            ],
            sessions: [
                live_sessions_are_listed_most_recently_active_first,
                sessions_are_revoked_once_and_only_their_owners,
                twenty_concurrent_consumers_of_one_refresh_token_get_one_winner,
                a_refresh_token_names_its_tenant_and_session_until_it_is_spent_or_expires,
                twenty_concurrent_rotations_store_one_successor_and_one_audit_event,
                a_rotation_that_cannot_store_its_successor_writes_nothing,
                twenty_concurrent_openings_that_spend_one_challenge_open_one_session,
                an_opening_ends_the_users_live_sessions_past_the_limit,
                revoked_tokens_are_denied_until_they_expire,
            ],
            keys: [
                keys_are_listed_newest_first_per_tenant_and_all_together,
                leaving_the_active_state_records_when_a_key_stopped_signing,
            ],
            audit: [
                audit_events_are_listed_newest_first_by_filter_and_limit,
                an_audit_batch_is_stored_whole_or_not_at_all,
                events_that_name_no_tenant_are_listed_apart,
                the_audit_writer_stores_every_event_of_a_burst_before_they_are_listed,
            ],
            outbox: [
                outbox_messages_are_claimed_once_and_retried,
                concurrent_claims_lease_each_message_once_in_due_order,
                messages_are_listed_newest_first_by_recipient_and_transport,
            ],
            hosted: [
                verifications_are_found_within_their_tenant_and_listed_newest_first,
                a_verification_moves_once_and_finishes_in_a_final_state,
                wrong_codes_count_only_against_a_pending_verification,
                a_verification_has_one_callback,
                callbacks_are_leased_once_until_their_try_is_recorded,
            ],
            admin_tokens: [
                admin_tokens_are_found_by_hash_and_unique,
            ],
            oidc: [
                an_authorization_code_is_redeemed_once_while_unexpired,
                concurrent_redemptions_of_a_code_have_one_winner,
                consents_are_replaced_listed_and_deleted_per_user_and_client,
                a_refresh_token_keeps_the_client_it_was_issued_to,
                a_device_grant_is_decided_once_polled_with_back_off_and_redeemed_once,
                concurrent_decisions_and_redemptions_of_a_device_grant_have_one_winner,
                a_pushed_request_is_taken_once_by_its_client_while_unexpired,
                a_jti_is_seen_first_once_per_tenant_until_it_expires,
                a_sessions_clients_are_taken_once,
                registration_tokens_are_spent_while_they_last_and_replaced_per_client,
            ],
            text: [
                text_with_nul_is_refused_everywhere_or_stored_intact_everywhere,
            ],
        );
    };
    (@each $engine:ty; $($module:ident: [$($check:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $check() {
                        $crate::contract::run::<$engine, _, _>($crate::contract::$module::$check).await;
                    }
                )*
            }
        )*
    };
}
