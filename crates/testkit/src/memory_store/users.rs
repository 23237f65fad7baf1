//! Users and their passwords.

use super::*;
use castellan_core::model::identifier::skeleton;
use castellan_core::store::{UserFilter, UserStore};

fn skeleton_of(identifier: Option<&str>) -> Option<String> {
    identifier.map(skeleton)
}

fn uin(u: &User) -> Option<String> {
    u.attribute_str("uin").map(str::to_string)
}

fn user_texts(u: &User) -> StoreResult<()> {
    texts([
        u.email.as_deref(),
        u.username.as_deref(),
        u.phone.as_deref(),
        u.password_hash.as_deref(),
        u.first_name.as_deref(),
        u.last_name.as_deref(),
        Some(&u.role),
        u.attribute_str("uin"),
    ])
}

impl State {
    /// The unique keys of `users` that `row` would break, in PostgreSQL's order; `insert` also
    /// checks the primary key, an update only the other rows.
    fn user_clash(&self, row: &UserRow, insert: bool) -> StoreResult<()> {
        let u = &row.user;
        let others = || self.users.iter().filter(|o| o.user.tenant_id == u.tenant_id && (insert || o.user.id != u.id));
        let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
        unique(&[
            (insert && self.users.iter().any(|o| o.user.id == u.id), None),
            (others().any(|o| same(&o.user.email, &u.email)), Some("email")),
            (others().any(|o| same(&o.user.username, &u.username)), Some("username")),
            (others().any(|o| same(&o.user.phone, &u.phone)), Some("phone")),
            (others().any(|o| same(&o.uin, &row.uin)), Some("uin")),
            (others().any(|o| same(&o.email_skeleton, &row.email_skeleton)), Some("email")),
            (others().any(|o| same(&o.username_skeleton, &row.username_skeleton)), Some("username")),
        ])
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        user_texts(u)?;
        let row = UserRow {
            user: u.clone(),
            uin: uin(u),
            email_skeleton: skeleton_of(u.email.as_deref()),
            username_skeleton: skeleton_of(u.username.as_deref()),
        };
        let mut s = self.state();
        s.user_clash(&row, true)?;
        s.require_tenant(u.tenant_id)?;
        s.users.push(row);
        Ok(())
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        user_texts(u)?;
        let mut s = self.state();
        let Some(i) = s.users.iter().position(|r| r.user.tenant_id == u.tenant_id && r.user.id == u.id) else {
            return Ok(());
        };
        let stored = &s.users[i];
        // As the SQL store: a skeleton is rewritten only when its identifier changes.
        let email_skeleton =
            if stored.user.email == u.email { stored.email_skeleton.clone() } else { skeleton_of(u.email.as_deref()) };
        let username_skeleton = if stored.user.username == u.username {
            stored.username_skeleton.clone()
        } else {
            skeleton_of(u.username.as_deref())
        };
        let user = User { created_at: stored.user.created_at, ..u.clone() };
        let row = UserRow { user, uin: uin(u), email_skeleton, username_skeleton };
        s.user_clash(&row, false)?;
        s.users[i] = row;
        Ok(())
    }

    async fn user_by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let s = self.state();
        Ok(s.users.iter().find(|r| r.user.tenant_id == tenant && r.user.id == id).map(|r| r.user.clone()))
    }

    async fn user_by_identifier(&self, tenant: TenantId, id: &Identifier) -> StoreResult<Option<User>> {
        let (value, column): (&str, fn(&User) -> Option<&str>) = match id {
            Identifier::Email(e) => (e.as_str(), |u| u.email.as_deref()),
            Identifier::Phone(p) => (p.as_str(), |u| u.phone.as_deref()),
            Identifier::Username(name) => (name.as_str(), |u| u.username.as_deref()),
        };
        text(value)?;
        let s = self.state();
        Ok(s.users.iter().map(|r| &r.user).find(|u| u.tenant_id == tenant && column(u) == Some(value)).cloned())
    }

    async fn user_by_uin(&self, tenant: TenantId, uin: &str) -> StoreResult<Option<User>> {
        text(uin)?;
        let s = self.state();
        Ok(s.users.iter().find(|r| r.user.tenant_id == tenant && r.uin.as_deref() == Some(uin)).map(|r| r.user.clone()))
    }

    async fn list_users(&self, tenant: TenantId, f: &UserFilter) -> StoreResult<Vec<User>> {
        texts([f.email.as_deref(), f.username.as_deref(), f.phone.as_deref()])?;
        let wanted = |filter: &Option<String>, value: &Option<String>| filter.is_none() || (value.is_some() && filter == value);
        let s = self.state();
        let mut users: Vec<User> = s
            .users
            .iter()
            .map(|r| &r.user)
            .filter(|u| u.tenant_id == tenant)
            .filter(|u| wanted(&f.email, &u.email) && wanted(&f.username, &u.username) && wanted(&f.phone, &u.phone))
            .cloned()
            .collect();
        users.sort_by_key(|u| (u.created_at, u.id));
        users.truncate(f.limit as usize);
        Ok(users)
    }

    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let mut s = self.state();
        let found = s.users.iter().any(|r| r.user.tenant_id == tenant && r.user.id == id);
        if found {
            s.remove_user(id);
        }
        Ok(found)
    }

    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new: &str,
        now: i64,
    ) -> StoreResult<bool> {
        texts([Some(expected), Some(new)])?;
        let mut s = self.state();
        let row = s
            .users
            .iter_mut()
            .map(|r| &mut r.user)
            .find(|u| u.tenant_id == tenant && u.id == user && u.password_hash.as_deref() == Some(expected));
        Ok(match row {
            Some(u) => {
                u.password_hash = Some(new.to_string());
                u.updated_at = now;
                true
            }
            None => false,
        })
    }
}
