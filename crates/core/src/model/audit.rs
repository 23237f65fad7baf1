//! Audit events: who tried what, from where, and how it ended.

use super::ids::{AppId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub application_id: Option<AppId>,
    pub user_id: Option<UserId>,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
    pub created_at: i64,
}

/// Filter of an audit listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub limit: u32,
}
