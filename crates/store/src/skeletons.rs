//! Confusable skeletons of the users written before the store kept them. A migration cannot run
//! Rust, so the store fills them in at the start that applies that migration, right after it:
//! each email and username in NFC, its skeleton beside it. A row that looks like another one
//! already (two accounts that only a look-alike letter tells apart) keeps its unset skeleton and
//! is logged: both accounts go on working, and a third look-alike is refused through the first
//! one's skeleton.

use castellan_core::model::identifier::{nfc, skeleton};
use castellan_core::store::StoreError;
use sqlx::AssertSqlSafe;

use crate::{SqlStore, db_err, on_pool, on_writer};

const BATCH: i64 = 500;

type Row = (String, Option<String>, Option<String>, Option<String>, Option<String>);

impl SqlStore {
    /// Sets the missing skeletons (and NFC forms) of users' emails and usernames.
    pub(crate) async fn backfill_identifier_skeletons(&self) -> Result<(), StoreError> {
        let sql = "SELECT id, email, username, email_skeleton, username_skeleton FROM users \
                   WHERE id > $1 AND ((email IS NOT NULL AND email_skeleton IS NULL) \
                   OR (username IS NOT NULL AND username_skeleton IS NULL)) ORDER BY id LIMIT $2";
        let mut after = String::new();
        loop {
            let rows: Vec<Row> =
                on_pool!(self, |p| sqlx::query_as(sql).bind(&after).bind(BATCH).fetch_all(p).await.map_err(db_err))?;
            for (id, email, username, email_skeleton, username_skeleton) in &rows {
                for (column, value, current) in [("email", email, email_skeleton), ("username", username, username_skeleton)] {
                    if let (Some(value), None) = (value, current) {
                        self.set_skeleton(id, column, value).await?;
                    }
                }
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => after = last.0.clone(),
                _ => return Ok(()),
            }
        }
    }

    async fn set_skeleton(&self, id: &str, column: &'static str, value: &str) -> Result<(), StoreError> {
        let sql = format!("UPDATE users SET {column}=$2, {column}_skeleton=$3 WHERE id=$1");
        let normalised = nfc(value);
        let written = on_writer!(self, |p| sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(id)
            .bind(&normalised)
            .bind(skeleton(&normalised))
            .execute(p)
            .await
            .map(|_| ())
            .map_err(db_err));
        match written {
            Err(StoreError::Conflict(_)) => {
                tracing::warn!(user = %id, column, "another user of the tenant has a look-alike {column}; this one's skeleton stays unset");
                Ok(())
            }
            other => other,
        }
    }
}
