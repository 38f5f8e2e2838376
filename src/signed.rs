//! Every value touchpoint signs, under HMAC-SHA256, in one place:
//! - [`SignedTokens`]: links that carry 16 bytes and an expiry, a client's
//!   follow link (a case id) and history link (a case key). Each purpose
//!   derives its own key from the service's link secret, so no link opens
//!   another kind.
//! - [`Sealer`]: a text value with its full tag, `value.tag` — the rating
//!   links of letters (`email.secret`) and analysts' session cookies
//!   (`dashboards.session_secret`), keyed with the secret itself so that
//!   values sealed before keep opening.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// 16 bytes of payload, 4 of expiry, 16 of MAC: 48 characters of base64url.
const TOKEN_BYTES: usize = 36;

/// An HMAC keyed for one `purpose` with a key derived from `secret` (the
/// service's link key); without a secret, a random one. No purpose's key
/// opens another's.
pub fn keyed_for(secret: Option<&SecretString>, purpose: &str) -> Hmac<Sha256> {
    let base = match secret {
        Some(secret) => secret.expose_secret().as_bytes().to_vec(),
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    let mut derive = Hmac::<Sha256>::new_from_slice(&base).expect("HMAC takes a key of any length");
    derive.update(purpose.as_bytes());
    Hmac::<Sha256>::new_from_slice(&derive.finalize().into_bytes()).expect("any key length")
}

/// Seals text values: `value.tag`, the tag a full HMAC-SHA256 of `value`
/// in base64url.
#[derive(Clone)]
pub struct Sealer {
    /// Keyed once; cloned per value.
    keyed: Hmac<Sha256>,
}

/// Why a sealed value does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// No tag, or a tag that is not base64url.
    Malformed,
    /// A tag that is not ours for this value.
    Forged,
}

impl Sealer {
    pub fn new(key: &SecretString) -> Sealer {
        Sealer { keyed: Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()).expect("any key length") }
    }

    /// `value` with its tag.
    pub fn seal(&self, value: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        format!("{value}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The value of `sealed` when its tag is ours (compared in constant
    /// time). The tag follows the last `.`: values may contain dots.
    pub fn open<'a>(&self, sealed: &'a str) -> Result<&'a str, Unsealed> {
        let (value, tag) = sealed.rsplit_once('.').ok_or(Unsealed::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Unsealed::Malformed)?;
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        mac.verify_slice(&tag).map_err(|_| Unsealed::Forged)?;
        Ok(value)
    }
}

#[derive(Clone)]
pub struct SignedTokens {
    /// The MAC keyed once: keying HMAC is half the cost of a token, and a
    /// rating that opens a case signs one.
    keyed: Hmac<Sha256>,
    ttl: Duration,
}

impl SignedTokens {
    /// `secret` is `email.secret`; `purpose` names the kind of link. Unset, a
    /// random key: links die at restart.
    pub fn new(secret: Option<&SecretString>, purpose: &str, ttl: Duration) -> SignedTokens {
        SignedTokens { keyed: keyed_for(secret, purpose), ttl }
    }

    /// The token of `payload`, valid for the link's lifetime from `from` (unix seconds).
    pub fn token(&self, payload: [u8; 16], from: u32) -> String {
        let expires = from.saturating_add(u32::try_from(self.ttl.as_secs()).unwrap_or(u32::MAX));
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&expires.to_be_bytes());
        let mut mac = self.keyed.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..16]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The payload of a token, if it is ours and not expired at `now`.
    pub fn open(&self, token: &str, now: u32) -> Option<[u8; 16]> {
        self.open_dated(token, now).map(|(payload, _)| payload)
    }

    /// The payload of a token and the `from` it was made with, if it is ours
    /// and not expired at `now`: a link bound to one moment (a case's
    /// opening) opens nothing else that carries the same 16 bytes.
    pub fn open_dated(&self, token: &str, now: u32) -> Option<([u8; 16], u32)> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok().filter(|b| b.len() == TOKEN_BYTES)?;
        let (body, mac) = bytes.split_at(20);
        let mut check = self.keyed.clone();
        check.update(body);
        // Constant time, on the 16 bytes the token keeps.
        check.verify_truncated_left(mac).ok()?;
        let expires = u32::from_be_bytes(body[16..20].try_into().ok()?);
        let from = expires.checked_sub(u32::try_from(self.ttl.as_secs()).unwrap_or(u32::MAX))?;
        (now <= expires).then(|| (body[..16].try_into().expect("16 bytes"), from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_as_it_was_and_its_tag_is_the_plain_hmac_of_the_value() {
        let key = SecretString::from("k".repeat(32));
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal("olga.1000.2000");
        assert_eq!(sealer.open(&sealed), Ok("olga.1000.2000"), "dots inside a value are kept");
        // What e-mail links and session cookies carried before the one sealer:
        // links already sent in letters keep opening.
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes()).unwrap();
        mac.update(b"olga.1000.2000");
        assert_eq!(sealed, format!("olga.1000.2000.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())));
        assert_eq!(sealer.open(&sealed.replacen("olga", "admin", 1)), Err(Unsealed::Forged));
        assert_eq!(sealer.open("no tag"), Err(Unsealed::Malformed));
        assert_eq!(sealer.open("value.!!"), Err(Unsealed::Malformed));
        assert_eq!(Sealer::new(&SecretString::from("other")).open(&sealed), Err(Unsealed::Forged));
    }

    fn tokens(secret: &str, purpose: &str) -> SignedTokens {
        SignedTokens::new(Some(&SecretString::from(secret)), purpose, Duration::from_secs(100))
    }

    #[test]
    fn a_token_opens_until_it_expires_and_only_for_its_key_and_purpose() {
        let (tokens, payload) = (tokens(&"k".repeat(32), "a"), *uuid::Uuid::new_v4().as_bytes());
        let token = tokens.token(payload, 1_000);
        assert_eq!(token.len(), 48);
        assert_eq!(tokens.open(&token, 1_100), Some(payload));
        assert_eq!(tokens.open(&token, 1_101), None, "expired");
        assert_eq!(tokens.open_dated(&token, 1_000), Some((payload, 1_000)), "made at 1,000");
        assert_eq!(self::tokens(&"j".repeat(32), "a").open(&token, 1_000), None, "another key");
        assert_eq!(self::tokens(&"k".repeat(32), "b").open(&token, 1_000), None, "another purpose");
        let mut damaged = token.clone().into_bytes();
        damaged[3] = if damaged[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(tokens.open(std::str::from_utf8(&damaged).unwrap(), 1_000), None, "damaged");
        for bad in ["", "x", &token[..47], &format!("{token}A"), "../../etc/passwd"] {
            assert_eq!(tokens.open(bad, 1_000), None, "{bad}");
        }
    }
}
