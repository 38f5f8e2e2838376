//! The accounts and tokens as the admin page lists and changes them.

use std::time::SystemTime;

use super::auth::{AccountError, AnalystRow, Grant, TokenRow, check_units};
use crate::domain::Role;
use crate::domain::time::unix;
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
    let current = storage
        .client()
        .query("SELECT ?fields FROM analysts FINAL WHERE name = ?")
        .bind(name)
        .fetch_optional::<AnalystRow>()
        .await?;
    let Some(row) = current else { return Ok(false) };
    // A later updated_at wins in the ReplacingMergeTree: at least one second on.
    let updated_at = unix(SystemTime::now()).max(row.updated_at + 1);
    let row = AnalystRow { role: grant.role.as_str().into(), units: grant.units.clone(), updated_at, ..row };
    let mut insert = storage.client().insert::<AnalystRow>("analysts").await?;
    insert.write(&row).await?;
    insert.end().await?;
    Ok(true)
}
