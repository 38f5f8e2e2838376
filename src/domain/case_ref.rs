//! A ministry's own reference of a client's case — the application number it
//! already uses, such as `Л-2026/117` — and the keyed hash that is all
//! touchpoint keeps of it.
//!
//! References are short and guessable, so a plain hash would give them away
//! to anyone who tries every number; an HMAC under `case_refs.secret` can
//! only be recomputed by who holds the secret. The clear reference is never
//! stored or logged: it lives only in the request that carries it.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::Invalid;
use super::text::bounded;

/// Longest reference accepted, in characters.
pub const MAX_CASE_REF_CHARS: usize = 64;

/// A checked reference: trimmed, inner runs of white space made one space,
/// upper case — so `л-2026/117 ` and `Л-2026/117` are one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRef(String);

impl CaseRef {
    /// The reference a request carries in `field`, if any; refused when it
    /// is longer than [`MAX_CASE_REF_CHARS`]. Empty means none.
    pub fn parse(field: &str, value: Option<String>) -> Result<Option<CaseRef>, Invalid> {
        // Most events carry none: no allocation on the capture path for them.
        let Some(value) = value else { return Ok(None) };
        let text = bounded(field, Some(value), MAX_CASE_REF_CHARS)?;
        let normal = text.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
        Ok((!normal.is_empty()).then_some(CaseRef(normal)))
    }
}

/// The keyed hash of a reference: 16 bytes, `FixedString(16)` in
/// ClickHouse, 32 hexadecimal digits in URLs and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseKey(pub [u8; 16]);

impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for CaseKey {
    type Err = ();
    fn from_str(s: &str) -> Result<CaseKey, ()> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        let mut key = [0; 16];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| ())?;
        }
        Ok(CaseKey(key))
    }
}

/// Turns references into keys with the service's secret, keyed once.
#[derive(Clone)]
pub struct CaseKeys {
    keyed: Hmac<Sha256>,
}

impl CaseKeys {
    /// `secret` is `case_refs.secret`. Without one, a key derived from
    /// `email.secret`; without either, a random key (keys then change at
    /// every restart and no case links across one: development only).
    pub fn new(secret: Option<&SecretString>, email_secret: Option<&SecretString>) -> CaseKeys {
        let key: Vec<u8> = match (secret, email_secret) {
            (Some(secret), _) => secret.expose_secret().as_bytes().to_vec(),
            (None, Some(email)) => {
                let mut derive = Hmac::<Sha256>::new_from_slice(email.expose_secret().as_bytes()).expect("any length");
                derive.update(b"touchpoint case references v1");
                derive.finalize().into_bytes().to_vec()
            }
            (None, None) => {
                tracing::warn!(
                    "neither case_refs.secret nor email.secret is set: case references link only until restart"
                );
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        CaseKeys { keyed: Hmac::new_from_slice(&key).expect("HMAC takes a key of any length") }
    }

    pub fn key(&self, reference: &CaseRef) -> CaseKey {
        let mut mac = self.keyed.clone();
        mac.update(reference.0.as_bytes());
        CaseKey(mac.finalize().into_bytes()[..16].try_into().expect("16 of 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> CaseKeys {
        CaseKeys::new(Some(&SecretString::from(secret)), None)
    }

    fn parse(text: &str) -> Option<CaseRef> {
        CaseRef::parse("case_ref", Some(text.to_string())).unwrap()
    }

    #[test]
    fn one_case_whatever_its_spelling_and_another_key_gives_another_hash() {
        let keys = keys(&"k".repeat(32));
        let key = keys.key(&parse("Л-2026/117").unwrap());
        assert_eq!(keys.key(&parse("  л-2026/117\t").unwrap()), key);
        assert_ne!(keys.key(&parse("Л-2026/118").unwrap()), key);
        assert_ne!(self::keys(&"j".repeat(32)).key(&parse("Л-2026/117").unwrap()), key);
        assert_eq!(parse("   "), None);
        assert_eq!(parse("a  \n b"), parse("A B"));
        assert!(CaseRef::parse("case_ref", Some("x".repeat(65))).is_err());
    }

    #[test]
    fn a_key_reads_back_from_its_hex_and_nothing_else_is_a_key() {
        let key = keys(&"k".repeat(32)).key(&parse("Л-2026/117").unwrap());
        let hex = key.to_string();
        assert_eq!(hex.len(), 32);
        assert_eq!(hex.parse::<CaseKey>(), Ok(key));
        for bad in ["", "00", &hex[..31], &format!("{hex}0"), &"g".repeat(32), "ЛЛЛЛЛЛЛЛЛЛЛЛЛЛЛ"] {
            assert!(bad.parse::<CaseKey>().is_err(), "{bad}");
        }
    }
}
