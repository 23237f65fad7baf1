//! Admin API tokens.

use castellan_core::model::*;

use super::fixtures::*;

pub async fn admin_tokens_are_found_by_hash_and_unique(store: Db) {
    assert!(!store.admin_token_exists(b"hash-1").await.unwrap());
    store.insert_admin_token(new_id(), b"hash-1", "bootstrap", 1).await.unwrap();
    store.insert_admin_token(new_id(), b"hash-2", "bootstrap", 2).await.unwrap();
    assert!(store.admin_token_exists(b"hash-1").await.unwrap());
    assert!(store.admin_token_exists(b"hash-2").await.unwrap());
    assert!(!store.admin_token_exists(b"hash-3").await.unwrap());
    assert_eq!(conflict(store.insert_admin_token(new_id(), b"hash-1", "again", 3).await), ConflictOn::Other);
}
