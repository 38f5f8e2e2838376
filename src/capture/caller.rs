//! Who calls a public capture route, as far as its headers tell: the page's
//! origin, the Host it called, and whether the body is the no-JavaScript form.
//! Only these three are taken from the request: axum's `HeaderMap` extractor
//! would copy every header on every request.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};

pub struct Caller {
    /// The `Origin` header, parsed once per request (a timings array checks it
    /// for every event); `Some(None)` when present but not a URL.
    origin: Option<(HeaderValue, Option<url::Url>)>,
    host: Option<HeaderValue>,
    /// The body is `application/x-www-form-urlencoded`: answer with a page.
    pub form: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Infallible> {
        let headers = &parts.headers;
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let origin = headers.get(header::ORIGIN).map(|o| (o.clone(), origin_url(o)));
        Ok(Caller { origin, host: headers.get(header::HOST).cloned(), form })
    }
}

impl Caller {
    /// No origin (not a browser page), one of `origins`, or this service's
    /// own (the embed form posting to itself).
    pub fn may_post_for(&self, origins: &[url::Url]) -> bool {
        self.origin.as_ref().is_none_or(|(origin, url)| {
            url.as_ref().is_some_and(|url| allowed_url(origins, url)) || self.same_origin(origin)
        })
    }

    /// The origin's authority is the Host.
    fn same_origin(&self, origin: &HeaderValue) -> bool {
        let authority = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, a)| a);
        authority.is_some_and(|a| self.host.as_ref().is_some_and(|h| h.as_bytes() == a.as_bytes()))
    }
}

/// One of `allowed`, by the rule of [`allowed_url`].
pub fn origin_allowed(allowed: &[url::Url], origin: &HeaderValue) -> bool {
    origin_url(origin).is_some_and(|origin| allowed_url(allowed, &origin))
}

fn origin_url(origin: &HeaderValue) -> Option<url::Url> {
    origin.to_str().ok().and_then(|o| url::Url::parse(o).ok())
}

/// Scheme and host must match; a configured origin without a port allows any port.
fn allowed_url(allowed: &[url::Url], origin: &url::Url) -> bool {
    allowed.iter().any(|a| {
        a.scheme() == origin.scheme()
            && a.host_str() == origin.host_str()
            && (a.port().is_none() || a.port_or_known_default() == origin.port_or_known_default())
    })
}
