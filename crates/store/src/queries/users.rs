//! Users and their passwords.

use super::*;

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO users ({USER_COLS}, uin, email_skeleton, username_skeleton) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)"
        );
        execute!(
            self,
            sql,
            u.id.to_string(),
            u.tenant_id.to_string(),
            u.email.clone(),
            u.username.clone(),
            u.phone.clone(),
            u.password_hash.clone(),
            u.first_name.clone(),
            u.last_name.clone(),
            &u.role,
            to_json(&u.roles),
            to_json(&u.permissions),
            to_json(&u.attributes),
            u.email_verified,
            u.phone_verified,
            u.active,
            u.mfa_enabled,
            u.created_at,
            u.updated_at,
            uin(u),
            skeleton_of(u.email.as_deref()),
            skeleton_of(u.username.as_deref())
        )
        .map(|_| ())
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        // A skeleton is rewritten only when its identifier changes: a row whose skeleton was left
        // unset (it looked like another row's before skeletons existed) can still be updated.
        let sql = "UPDATE users SET email=$3, username=$4, phone=$5, password_hash=$6, first_name=$7, last_name=$8, role=$9, \
                   roles=$10, permissions=$11, attributes=$12, email_verified=$13, phone_verified=$14, active=$15, \
                   mfa_enabled=$16, updated_at=$17, uin=$18, \
                   email_skeleton = CASE WHEN email IS NOT DISTINCT FROM $3 THEN email_skeleton ELSE $19 END, \
                   username_skeleton = CASE WHEN username IS NOT DISTINCT FROM $4 THEN username_skeleton ELSE $20 END \
                   WHERE tenant_id=$1 AND id=$2";
        let written = execute!(
            self,
            sql,
            u.tenant_id.to_string(),
            u.id.to_string(),
            u.email.clone(),
            u.username.clone(),
            u.phone.clone(),
            u.password_hash.clone(),
            u.first_name.clone(),
            u.last_name.clone(),
            &u.role,
            to_json(&u.roles),
            to_json(&u.permissions),
            to_json(&u.attributes),
            u.email_verified,
            u.phone_verified,
            u.active,
            u.mfa_enabled,
            u.updated_at,
            uin(u),
            skeleton_of(u.email.as_deref()),
            skeleton_of(u.username.as_deref())
        )
        .map(|_| ());
        self.hot.user_changed(u.tenant_id, u.id);
        written
    }

    async fn user_by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        if let Some(u) = self.hot.user(tenant, id) {
            return Ok(Some(u));
        }
        let epoch = self.hot.epoch();
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND id=$2");
        let user: Option<User> = fetch_optional!(self, UserRow, sql, tenant.to_string(), id.to_string())?;
        if let Some(u) = &user {
            self.hot.put_user(epoch, u);
        }
        Ok(user)
    }

    async fn user_by_identifier(&self, tenant: TenantId, id: &Identifier) -> StoreResult<Option<User>> {
        let (column, value) = match id {
            Identifier::Email(e) => ("email", e.as_str().to_string()),
            Identifier::Phone(ph) => ("phone", ph.as_str().to_string()),
            Identifier::Username(u) => ("username", u.clone()),
        };
        // Held as a read by id would hold it: a sign-in reads its user again by id right after.
        let epoch = self.hot.epoch();
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND {column}=$2");
        let user: Option<User> = fetch_optional!(self, UserRow, sql, tenant.to_string(), &value)?;
        if let Some(u) = &user {
            self.hot.put_user(epoch, u);
        }
        Ok(user)
    }

    async fn user_by_uin(&self, tenant: TenantId, uin: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND uin=$2");
        fetch_optional!(self, UserRow, sql, tenant.to_string(), uin)
    }

    async fn list_users(&self, tenant: TenantId, f: &UserFilter) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id=$1 AND ($2 IS NULL OR email=$2) AND ($3 IS NULL OR username=$3) \
             AND ($4 IS NULL OR phone=$4) ORDER BY created_at, id LIMIT $5"
        );
        fetch_all!(
            self,
            UserRow,
            sql,
            tenant.to_string(),
            f.email.clone(),
            f.username.clone(),
            f.phone.clone(),
            i64::from(f.limit)
        )
    }

    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let deleted =
            execute!(self, "DELETE FROM users WHERE tenant_id=$1 AND id=$2", tenant.to_string(), id.to_string()).map(|n| n > 0);
        self.hot.user_deleted(tenant, id);
        deleted
    }

    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE users SET password_hash=$4, updated_at=$5 WHERE tenant_id=$1 AND id=$2 AND password_hash=$3";
        let replaced = execute!(self, sql, tenant.to_string(), user.to_string(), expected, new, now).map(|n| n > 0);
        self.hot.user_changed(tenant, user);
        replaced
    }
}
