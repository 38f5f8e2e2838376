//! The accounts and tokens as the admin page lists and changes them.

use super::auth::{AccountError, AnalystRow, Grant, TokenRow, check_units, rewrite_account};
use crate::domain::Role;
use crate::storage::Storage;

/// An account as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: String,
    /// `None` for a role this build does not know (it gets nothing).
    pub role: Option<Role>,
    pub units: Vec<String>,
    pub disabled: bool,
    /// Unix seconds of the last change.
    pub updated_at: u32,
}

/// A token as listed: never the token itself, which is not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub name: String,
    pub role: Option<Role>,
    pub units: Vec<String>,
    pub created_at: u32,
    pub revoked: bool,
}

fn role(name: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == name)
}

pub async fn accounts(storage: &Storage) -> Result<Vec<Account>, AccountError> {
    let rows: Vec<AnalystRow> =
        storage.client().query("SELECT ?fields FROM analysts FINAL ORDER BY name").fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| Account {
            role: role(&r.role),
            name: r.name,
            units: r.units,
            disabled: r.disabled != 0,
            updated_at: r.updated_at,
        })
        .collect())
}

pub async fn tokens(storage: &Storage) -> Result<Vec<Token>, AccountError> {
    let rows: Vec<TokenRow> =
        storage.client().query("SELECT ?fields FROM api_tokens FINAL ORDER BY name, created_at").fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| Token {
            role: role(&r.role),
            name: r.name,
            units: r.units,
            created_at: r.created_at,
            revoked: r.revoked != 0,
        })
        .collect())
}

/// Gives account `name` a new role and units, its password kept; false
/// when there is no such account. Sessions see it at their next request.
pub async fn set_grant(storage: &Storage, name: &str, grant: &Grant) -> Result<bool, AccountError> {
    check_units(grant)?;
    let (role, units) = (grant.role.as_str().to_string(), grant.units.clone());
    rewrite_account(storage, name, |row| AnalystRow { role, units, ..row }).await
}
