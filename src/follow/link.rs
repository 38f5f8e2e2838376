//! The client's follow link: `/follow/<token>`, where the token is the case
//! id and an expiry, HMAC-signed. It names no person; whoever holds it sees
//! that one case's status and answer, nothing else. A forged, damaged or
//! expired token is simply not a link (the page answers 404).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

/// Signs and checks follow tokens.
#[derive(Clone)]
pub struct FollowLinks {
    /// The MAC keyed once: each rating that opens a case signs a link, and
    /// keying HMAC is half its cost.
    keyed: Hmac<Sha256>,
    ttl: Duration,
    /// Where links point, without a trailing slash.
    base_url: String,
}

/// 16 bytes of case id, 4 of expiry, 16 of MAC: 48 characters of base64url.
const TOKEN_BYTES: usize = 36;

impl FollowLinks {
    /// `secret` is `email.secret` (the key of the service's links): the
    /// follow key is derived from it, so neither kind of link opens the
    /// other. Unset, a random key: links die at restart.
    pub fn new(secret: Option<&SecretString>, ttl: Duration, base_url: &str) -> FollowLinks {
        let base = match secret {
            Some(secret) => secret.expose_secret().to_string(),
            None => format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
        };
        let mut derive = Hmac::<Sha256>::new_from_slice(base.as_bytes()).expect("HMAC takes a key of any length");
        derive.update(b"touchpoint follow link v1");
        let keyed = Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes()).expect("any key length");
        FollowLinks { keyed, ttl, base_url: base_url.trim_end_matches('/').to_string() }
    }

    fn mac(&self, body: &[u8]) -> [u8; 16] {
        let mut mac = self.keyed.clone();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        full[..16].try_into().expect("16 of 32 bytes")
    }

    /// The token of case `id` opened at `opened_at` (unix seconds).
    pub fn token(&self, id: Uuid, opened_at: u32) -> String {
        let expires = opened_at.saturating_add(u32::try_from(self.ttl.as_secs()).unwrap_or(u32::MAX));
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&expires.to_be_bytes());
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The full link of case `id`.
    pub fn url(&self, id: Uuid, opened_at: u32) -> String {
        format!("{}/follow/{}", self.base_url, self.token(id, opened_at))
    }

    /// The case a token names, if it is ours and not expired at `now`.
    pub fn case(&self, token: &str, now: u32) -> Option<Uuid> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok().filter(|b| b.len() == TOKEN_BYTES)?;
        let (body, mac) = bytes.split_at(20);
        let mut check = self.keyed.clone();
        check.update(body);
        // Constant time, on the 16 bytes the token keeps.
        check.verify_truncated_left(mac).ok()?;
        let expires = u32::from_be_bytes(body[16..20].try_into().ok()?);
        (now <= expires).then(|| Uuid::from_bytes(body[..16].try_into().expect("16 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(secret: &str) -> FollowLinks {
        FollowLinks::new(Some(&SecretString::from(secret)), Duration::from_secs(100), "https://tp.example/")
    }

    #[test]
    fn a_token_names_its_case_until_it_expires_and_nothing_else_opens_it() {
        let (links, id) = (links(&"k".repeat(32)), Uuid::new_v4());
        let token = links.token(id, 1_000);
        assert_eq!(token.len(), 48);
        assert_eq!(links.url(id, 1_000), format!("https://tp.example/follow/{token}"));
        assert_eq!(links.case(&token, 1_100), Some(id));
        assert_eq!(links.case(&token, 1_101), None, "expired");
        assert_eq!(self::links(&"j".repeat(32)).case(&token, 1_000), None, "another key");
        let mut damaged = token.clone().into_bytes();
        damaged[3] = if damaged[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(links.case(std::str::from_utf8(&damaged).unwrap(), 1_000), None, "damaged");
        for bad in ["", "x", &token[..47], &format!("{token}A"), "../../etc/passwd"] {
            assert_eq!(links.case(bad, 1_000), None, "{bad}");
        }
    }
}
