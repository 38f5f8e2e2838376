//! The client's follow link: `/follow/<token>`, where the token is the case
//! id and an expiry, HMAC-signed. It names no person; whoever holds it sees
//! that one case's status and answer, nothing else. A forged, damaged or
//! expired token is simply not a link (the page answers 404).

use std::time::Duration;

use secrecy::SecretString;
use uuid::Uuid;

use crate::signed::SignedTokens;

/// Signs and checks follow tokens.
#[derive(Clone)]
pub struct FollowLinks {
    tokens: SignedTokens,
    /// Where links point, without a trailing slash.
    base_url: String,
}

impl FollowLinks {
    /// `secret` is `email.secret` (the key of the service's links): the
    /// follow key is derived from it, so no other kind of link opens a case.
    /// Unset, a random key: links die at restart.
    pub fn new(secret: Option<&SecretString>, ttl: Duration, base_url: &str) -> FollowLinks {
        let tokens = SignedTokens::new(secret, "touchpoint follow link v1", ttl);
        FollowLinks { tokens, base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// The token of case `id` opened at `opened_at` (unix seconds).
    pub fn token(&self, id: Uuid, opened_at: u32) -> String {
        self.tokens.token(*id.as_bytes(), opened_at)
    }

    /// The full link of case `id`.
    pub fn url(&self, id: Uuid, opened_at: u32) -> String {
        format!("{}/follow/{}", self.base_url, self.token(id, opened_at))
    }

    /// The case a token names and when that case opened, if the token is
    /// ours and not expired at `now`. A case is followed only by a link made
    /// for its own opening: an event posted later with the same id (another
    /// kind, a guessed id) gets a link that opens nothing.
    pub fn case(&self, token: &str, now: u32) -> Option<(Uuid, u32)> {
        self.tokens.open_dated(token, now).map(|(id, opened_at)| (Uuid::from_bytes(id), opened_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(secret: &str) -> FollowLinks {
        FollowLinks::new(Some(&SecretString::from(secret)), Duration::from_secs(100), "https://tp.example/")
    }

    #[test]
    fn a_link_names_its_case_until_it_expires() {
        let (links, id) = (links(&"k".repeat(32)), Uuid::new_v4());
        let token = links.token(id, 1_000);
        assert_eq!(links.url(id, 1_000), format!("https://tp.example/follow/{token}"));
        assert_eq!(links.case(&token, 1_100), Some((id, 1_000)));
        assert_eq!(links.case(&token, 1_101), None, "expired");
    }
}
