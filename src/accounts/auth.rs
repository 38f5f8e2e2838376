//! Who may read: lab analysts (password, then a signed session cookie) and
//! scripts (API tokens). Accounts and token hashes live in ClickHouse beside
//! the data they guard, so a deployment has one thing to back up; sessions are
//! signed cookies and need no table.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clickhouse::Row;
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::throttle::{Throttle, Verdict};
use crate::config::DashboardsConfig;
use crate::domain::Role;
use crate::domain::time::unix;
use crate::error::ApiError;
use crate::server::Proxies;
use crate::storage::{Storage, StorageError};

pub const COOKIE: &str = "tp_session";

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct AnalystRow {
    pub(super) name: String,
    pub(super) password_hash: String,
    pub(super) disabled: u8,
    pub(super) updated_at: u32,
    pub(super) role: String,
    pub(super) units: Vec<String>,
}

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct TokenRow {
    pub(super) token_hash: String,
    pub(super) name: String,
    pub(super) created_at: u32,
    pub(super) revoked: u8,
    pub(super) updated_at: u32,
    pub(super) role: String,
    pub(super) units: Vec<String>,
}

/// What an account or token may do: its role, and for a handler the units
/// whose cases it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub units: Vec<String>,
}

impl Grant {
    pub fn analyst() -> Grant {
        Grant { role: Role::Analyst, units: Vec::new() }
    }

    /// `None` for a role this build does not know: such a holder gets no route.
    fn from_row(role: &str, units: Vec<String>) -> Option<Grant> {
        role.parse().ok().map(|role| Grant { role, units })
    }
}

/// An account's or token's name and grant as stored.
#[derive(Row, Deserialize)]
struct Holder {
    name: String,
    role: String,
    units: Vec<String>,
}

impl Holder {
    fn principal(self) -> Option<Principal> {
        Some(Principal { grant: Grant::from_row(&self.role, self.units)?, name: self.name })
    }
}

/// Who a request comes from: the account or token holder and its grant.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub grant: Grant,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account name is 1–64 characters of a-z, 0-9, '.', '_' and '-'")]
    BadName,
    #[error("a password needs at least 12 characters")]
    WeakPassword,
    #[error("a handler or an editor acts for at least one unit: name it with --unit")]
    NoUnits,
    #[error("a unit id is 1–64 characters of a-z, 0-9, '.', '_' and '-'")]
    BadUnit,
    #[error("only a handler or an editor has units")]
    UnitsWithoutCases,
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<clickhouse::error::Error> for AccountError {
    fn from(e: clickhouse::error::Error) -> Self {
        AccountError::Storage(e.into())
    }
}

/// A handler works the cases of at least one unit, an editor prepares
/// changes for one; no other role has units.
pub(super) fn check_units(grant: &Grant) -> Result<(), AccountError> {
    match grant.role {
        role if role.has_units() && grant.units.is_empty() => Err(AccountError::NoUnits),
        role if role.has_units() => {
            grant.units.iter().try_for_each(|u| check_name(u).map_err(|_| AccountError::BadUnit))
        }
        _ if !grant.units.is_empty() => Err(AccountError::UnitsWithoutCases),
        _ => Ok(()),
    }
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(AccountError::BadName) }
}

/// `touchpoint user disable`: the account can no longer log in, and its
/// sessions end at their next request. False when there is no such account.
pub async fn disable_user(storage: &Storage, name: &str) -> Result<bool, AccountError> {
    rewrite_account(storage, name, |row| AnalystRow { disabled: 1, ..row }).await
}

/// Stores `change` of account `name`'s row as its new state; false when
/// there is no such account.
pub(super) async fn rewrite_account(
    storage: &Storage,
    name: &str,
    change: impl FnOnce(AnalystRow) -> AnalystRow,
) -> Result<bool, AccountError> {
    let current = storage
        .client()
        .query("SELECT ?fields FROM analysts FINAL WHERE name = ?")
        .bind(name)
        .fetch_optional::<AnalystRow>()
        .await?;
    let Some(row) = current else { return Ok(false) };
    let updated_at = changed_at(Some(row.updated_at));
    storage.insert_one("analysts", &AnalystRow { updated_at, ..change(row) }).await?;
    Ok(true)
}

/// The `updated_at` of a change to an account whose row was last written at
/// `previous`: past it (a later one wins in the ReplacingMergeTree, so a
/// change made in the same second as the last is not lost), and past every
/// session made up to now (sessions made before a change end with it:
/// `Auth::session_holder`).
fn changed_at(previous: Option<u32>) -> u32 {
    let now = unix(SystemTime::now());
    match previous {
        Some(previous) => (now + 1).max(previous + 1),
        None => now,
    }
}

/// `touchpoint token revoke`: every token of `name` stops working at once;
/// returns how many were revoked.
pub async fn revoke_tokens(storage: &Storage, name: &str) -> Result<usize, AccountError> {
    let tokens: Vec<TokenRow> = storage
        .client()
        .query("SELECT ?fields FROM api_tokens FINAL WHERE name = ? AND revoked = 0")
        .bind(name)
        .fetch_all()
        .await?;
    if tokens.is_empty() {
        return Ok(0);
    }
    let (now, revoked) = (unix(SystemTime::now()), tokens.len());
    let mut insert = storage.client().insert::<TokenRow>("api_tokens").await?;
    for row in tokens {
        let updated_at = now.max(row.updated_at + 1);
        insert.write(&TokenRow { revoked: 1, updated_at, ..row }).await?;
    }
    insert.end().await?;
    Ok(revoked)
}

/// `touchpoint user add`: creates the account, or sets a new password and grant.
pub async fn add_user(storage: &Storage, name: &str, password: &str, grant: &Grant) -> Result<(), AccountError> {
    check_name(name)?;
    check_units(grant)?;
    if password.chars().count() < 12 {
        return Err(AccountError::WeakPassword);
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt()?)
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .to_string();
    let previous: Option<u32> = storage
        .client()
        .query("SELECT max(toUInt32(updated_at)) FROM analysts WHERE name = ? HAVING count() > 0")
        .bind(name)
        .fetch_optional()
        .await?;
    let mut insert = storage.client().insert::<AnalystRow>("analysts").await?;
    let row = AnalystRow {
        name: name.into(),
        password_hash: hash,
        disabled: 0,
        updated_at: changed_at(previous),
        role: grant.role.as_str().into(),
        units: grant.units.clone(),
    };
    insert.write(&row).await?;
    insert.end().await?;
    Ok(())
}

/// `touchpoint token create`: a new token for `name`; only its hash is kept.
pub async fn create_token(storage: &Storage, name: &str, grant: &Grant) -> Result<String, AccountError> {
    check_name(name)?;
    check_units(grant)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("tp_{}", URL_SAFE_NO_PAD.encode(bytes));
    let now = unix(SystemTime::now());
    let mut insert = storage.client().insert::<TokenRow>("api_tokens").await?;
    let row = TokenRow {
        token_hash: token_hash(&token),
        name: name.into(),
        created_at: now,
        revoked: 0,
        updated_at: now,
        role: grant.role.as_str().into(),
        units: grant.units.clone(),
    };
    insert.write(&row).await?;
    insert.end().await?;
    Ok(token)
}

/// 16 random bytes, as argon2 wants them.
fn salt() -> Result<SaltString, AccountError> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes).map_err(|e| AccountError::Hash(e.to_string()))
}

fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

pub struct Auth {
    storage: Storage,
    sealer: crate::signed::Sealer,
    ttl: Duration,
    secure: bool,
    throttle: Throttle,
    /// Who the client behind a request is (`limits.trusted_proxies`).
    proxies: Proxies,
    /// A hash to verify against when the account does not exist, so that the
    /// answer takes as long as for a real account.
    decoy: String,
    /// The service's one clock: when sessions open and expire.
    clock: crate::domain::time::Clock,
}

impl Auth {
    pub fn new(
        storage: Storage,
        config: &DashboardsConfig,
        proxies: Proxies,
        clock: crate::domain::time::Clock,
    ) -> Arc<Auth> {
        let key = config.session_secret.clone().unwrap_or_else(|| {
            tracing::warn!("dashboards.session_secret is not set: analysts log in again after every restart");
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
        });
        let decoy = salt()
            .ok()
            .and_then(|s| Argon2::default().hash_password(b"decoy password", &s).ok().map(|h| h.to_string()))
            .unwrap_or_default();
        Arc::new(Auth {
            storage,
            sealer: crate::signed::Sealer::new(&key),
            ttl: config.session_ttl,
            secure: config.secure_cookie,
            throttle: Throttle::new(config.login_burst, config.login_burst_per_address, config.login_refill),
            proxies,
            decoy,
            clock,
        })
    }

    /// `name.issued.expiry.signature`: enough to know who, since when, until
    /// when, and that we said so. `since` is the account's last change, so a
    /// session is never older than the password it was opened with.
    fn session_value(&self, name: &str, since: u32) -> String {
        let now = (self.clock)();
        let (issued, expires) = (unix(now).max(since), unix(now + self.ttl));
        self.sealer.seal(&format!("{name}.{issued}.{expires}"))
    }

    /// The account and the time a session was opened, if its cookie is ours
    /// and not expired.
    fn session_user(&self, value: &str) -> Option<(String, u32)> {
        let payload = self.sealer.open(value).ok()?;
        let (rest, expires) = payload.rsplit_once('.')?;
        let (name, issued) = rest.rsplit_once('.')?;
        (expires.parse::<u32>().ok()? > unix((self.clock)())).then(|| Some((name.to_string(), issued.parse().ok()?)))?
    }

    /// The cookie of a session of `name`, whose account was last changed at
    /// `since` (what [`Auth::check_password`] returned).
    pub fn login_cookie(&self, name: &str, since: u32) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.session_value(name, since),
            self.ttl.as_secs()
        )
    }

    pub fn logout_cookie(&self) -> String {
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    /// The address a request's attempts are counted against.
    pub fn client(&self, request: &Request) -> IpAddr {
        self.proxies.client_of(request)
    }

    /// Whether this address may try this account name now (see [`throttle`]);
    /// an attempt that may go on is counted as failed until [`Auth::succeeded`].
    pub fn may_try(&self, ip: IpAddr, name: &str) -> Verdict {
        self.throttle.login(ip, name, Instant::now())
    }

    /// Gives back the attempt `may_try` counted: a success is no failure.
    pub fn succeeded(&self, ip: IpAddr, name: &str) {
        self.throttle.login_succeeded(ip, name, Instant::now());
    }

    /// When the account was last changed, if the name and password match an
    /// enabled account.
    pub async fn check_password(&self, name: &str, password: &str) -> Result<Option<u32>, StorageError> {
        let row = self
            .storage
            .client()
            .query("SELECT ?fields FROM analysts FINAL WHERE name = ? AND disabled = 0")
            .bind(name)
            .fetch_optional::<AnalystRow>()
            .await?;
        let hash = row.as_ref().map_or(self.decoy.as_str(), |r| r.password_hash.as_str());
        let matches = PasswordHash::new(hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        Ok(row.filter(|_| matches).map(|r| r.updated_at))
    }

    async fn token_holder(&self, token: &str) -> Result<Option<Principal>, StorageError> {
        let row = self
            .storage
            .client()
            .query("SELECT ?fields FROM api_tokens FINAL WHERE token_hash = ? AND revoked = 0")
            .bind(token_hash(token))
            .fetch_optional::<Holder>()
            .await?;
        Ok(row.and_then(Holder::principal))
    }

    /// The account of a session opened at `issued`, as it stands now: a
    /// changed role takes effect at the next request, not at the next login,
    /// and a session opened before the account's last change (a new
    /// password, a disable and re-enable, a new grant) has ended.
    async fn session_holder(&self, name: String, issued: u32) -> Result<Option<Principal>, StorageError> {
        let row = self
            .storage
            .client()
            .query("SELECT ?fields FROM analysts FINAL WHERE name = ? AND disabled = 0 AND updated_at <= toDateTime(?)")
            .bind(&name)
            .bind(issued)
            .fetch_optional::<Holder>()
            .await?;
        Ok(row.and_then(Holder::principal))
    }

    /// Where an account lands after a login that named no page: its role's
    /// own (the dashboards, the case queue, the admin page).
    pub async fn home(&self, name: &str) -> Result<&'static str, StorageError> {
        let holder = self.session_holder(name.to_string(), u32::MAX).await?;
        Ok(match holder.map(|p| p.grant.role) {
            Some(Role::Handler) => "/cases",
            Some(Role::Admin) => "/admin",
            Some(Role::Editor | Role::Approver) => "/register/changes",
            _ => "/dashboard",
        })
    }

    /// The state of [`require`] for routes that admit `roles`.
    pub fn admits(self: &Arc<Self>, roles: &'static [Role]) -> Admits {
        Admits { auth: self.clone(), roles }
    }

    /// Who is behind a bearer token or a session cookie. A wrong token
    /// counts against `ip`, which is refused once it guessed too often.
    pub async fn identify(&self, headers: &HeaderMap, ip: IpAddr) -> Result<Option<Principal>, ApiError> {
        let internal = |e: StorageError| ApiError::Internal(e.into());
        let bearer =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = bearer else {
            let Some((name, issued)) = cookie(headers, COOKIE).and_then(|v| self.session_user(&v)) else {
                return Ok(None);
            };
            return self.session_holder(name, issued).await.map_err(internal);
        };
        if let Some(retry_after) = self.throttle.token(ip, Instant::now()) {
            return Err(ApiError::RateLimited { scope: "token", retry_after });
        }
        let holder = self.token_holder(token.trim()).await.map_err(internal)?;
        if holder.is_none() {
            self.throttle.token_failed(ip, Instant::now());
        }
        Ok(holder)
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request would be identified by its session cookie (it
/// carries no bearer token).
fn by_session(request: &Request) -> bool {
    let bearer = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    !bearer.is_some_and(|v| v.starts_with("Bearer ")) && cookie(request.headers(), COOKIE).is_some()
}

/// The roles a group of routes admits, with the auth that identifies callers:
/// the state of [`require`]; made by [`Auth::admits`].
#[derive(Clone)]
pub struct Admits {
    pub auth: Arc<Auth>,
    pub roles: &'static [Role],
}

/// Middleware of every route that reads data or changes cases: no caller, a
/// 401 (a page sends the browser to the login page and back); a caller of
/// another role, a 403 naming the roles admitted. The caller goes on as a
/// [`Principal`] extension.
pub async fn require(State(admits): State<Admits>, mut request: Request, next: Next) -> Response {
    let auth = &admits.auth;
    if by_session(&request) && !request.method().is_safe() && !crate::web::same_origin(request.headers()) {
        // A session cookie is ambient: a page of another site (a sibling
        // subdomain is "same-site" for SameSite=Lax) could make a signed-in
        // browser send it. Scripts use a bearer token, which no page can.
        return ApiError::Forbidden {
            field: "origin",
            message: "a request signed in by a session may only come from this service's own pages".into(),
        }
        .into_response();
    }
    match auth.identify(request.headers(), auth.client(&request)).await {
        Ok(Some(principal)) if admits.roles.contains(&principal.grant.role) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(Some(principal)) => {
            let roles: Vec<&str> = admits.roles.iter().map(|r| r.as_str()).collect();
            ApiError::Forbidden {
                field: "role",
                message: format!("a {} may not use this; it is for: {}", principal.grant.role, roles.join(", ")),
            }
            .into_response()
        }
        Ok(None) if request.uri().path().starts_with("/api/") || request.uri().path() == "/metrics" => {
            ApiError::LoginRequired.into_response()
        }
        Ok(None) => {
            let target = request.uri().path_and_query().map_or("/dashboard", |p| p.as_str());
            let next = url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_handler_has_units_and_it_has_at_least_one() {
        let grant = |role, units: &[&str]| Grant { role, units: units.iter().map(|u| u.to_string()).collect() };
        assert!(check_units(&grant(Role::Handler, &["licensing"])).is_ok());
        assert!(matches!(check_units(&grant(Role::Handler, &[])), Err(AccountError::NoUnits)));
        assert!(matches!(check_units(&grant(Role::Handler, &["Отдел"])), Err(AccountError::BadUnit)));
        assert!(matches!(check_units(&grant(Role::Analyst, &["licensing"])), Err(AccountError::UnitsWithoutCases)));
        assert!(check_units(&Grant::analyst()).is_ok());
        assert_eq!(Grant::from_row("auditor", vec![]), None, "a role this build does not know gets nothing");
    }

    #[test]
    fn a_session_is_ours_until_it_expires() {
        let storage = Storage::new(
            &crate::storage::Endpoint {
                url: "http://127.0.0.1:1".parse().unwrap(),
                user: "x".into(),
                password: SecretString::from(""),
            },
            "x",
        );
        let auth = Auth::new(
            storage,
            &DashboardsConfig { session_secret: Some(SecretString::from("s".repeat(32))), ..Default::default() },
            Proxies::default(),
            crate::domain::time::system_clock(),
        );
        let value = auth.session_value("olga", 1_000);
        let (name, issued) = auth.session_user(&value).unwrap();
        assert_eq!(name, "olga");
        assert!(issued >= unix(SystemTime::now()) - 1, "opened now, not at the account's last change");
        let forged = value.replacen("olga", "admin", 1);
        assert_eq!(auth.session_user(&forged), None);
        let (payload, sig) = value.rsplit_once('.').unwrap();
        let (rest, _) = payload.rsplit_once('.').unwrap();
        let expired = auth.sealer.seal(&format!("{rest}.1"));
        assert_eq!(auth.session_user(&expired), None, "signed but expired");
        let future = auth.session_value("olga", u32::MAX - 10);
        assert_eq!(auth.session_user(&future).unwrap().1, u32::MAX - 10, "never before the account's last change");
        assert_ne!(sig, "");
    }
}
