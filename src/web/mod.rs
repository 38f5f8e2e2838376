//! What every page a browser shows from this service shares: security
//! headers, forms that only the service's own pages may submit
//! ([`same_origin`]), the words of both languages ([`Words`]), CSV
//! downloads (`csv`), the question-set form (`set_form`); and the guard of
//! the public routes, a rate limit per address and per site ([`GuardLayer`],
//! `limits`). It imports no feature: the features build their pages on it.
//!
//! Analysts' pages, their exports and charts, and the pages behind a
//! letter's rating link get [`private_pages`]: nothing may frame them and
//! nothing is cached. Every page sends its URL in a `Referer` to the service
//! only, never to another site (a rating link's URL is its key); not
//! `no-referrer`, which would also turn a form post's `Origin` into `null`.
//! The widget's embeddable form sets its own `frame-ancestors` (the site's
//! origins) and gets [`public_pages`] for the rest.

use std::convert::Infallible;

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

pub mod csv;
mod guard;
pub mod limits;
pub mod set_form;
mod words;
pub use guard::GuardLayer;
pub use words::{Words, duration_text};

/// Inline styles only (the templates' `<style>` and `style=`), images from
/// the service itself (charts), forms posted to it, no scripts, no framing.
pub const PRIVATE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                               form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The CSP of a public page the ministry's sites may frame: `'self'` and
/// each of `origins` (any port when the origin names none) as ancestors.
pub fn embeddable_csp<'a>(origins: impl IntoIterator<Item = &'a url::Url>) -> String {
    let ancestors: Vec<String> = origins
        .into_iter()
        .map(|o| match o.port() {
            Some(port) => format!("{}://{}:{port}", o.scheme(), o.host_str().unwrap_or_default()),
            None => format!("{}://{}:*", o.scheme(), o.host_str().unwrap_or_default()),
        })
        .collect();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'self' {}",
        ancestors.join(" ")
    )
}

/// Sets the headers of a page that shows data: see the module doc. A header
/// the handler set itself (a stricter CSP, a `Cache-Control`) is kept.
pub fn private_pages(mut response: Response) -> Response {
    let headers = response.headers_mut();
    set(headers, header::CONTENT_SECURITY_POLICY, PRIVATE_CSP);
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::CACHE_CONTROL, "no-store");
    public_pages(response)
}

/// What any page or script of the service gets.
pub fn public_pages(mut response: Response) -> Response {
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    response
}

/// What every answer of the service carries unless its handler set its own
/// (the widget's script is cached for an hour): `nosniff`, and `no-store`,
/// so that no browser or proxy keeps clients' words, case data, figures or
/// metrics (issue 28, item 13).
pub fn every_answer<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.entry(name).or_insert(HeaderValue::from_static(value));
}

/// Whether a request comes from a page of this service, or from no browser
/// at all. Browsers say where a request comes from in `Sec-Fetch-Site`
/// (every current one) or `Origin`; a request with neither is not a
/// browser's (curl, scripts), which no other site can make a visitor send.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let value = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = value(HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = value(header::ORIGIN) else { return true };
    // An opaque origin ("null": sandboxed frames, some redirects) is no page of ours.
    let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    host.is_some_and(|host| Some(host) == value(header::HOST))
}

/// Middleware of routes with forms: a request that changes state must come
/// from a page of this service. Browsers say where a request comes from in
/// `Sec-Fetch-Site` (every current one) or `Origin`: cross-site is refused
/// with 403. A request with neither is not a browser's form post (curl,
/// scripts), which no other site can make a visitor send.
pub async fn same_origin_forms(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) || same_origin(request.headers()) {
        return next.run(request).await;
    }
    ApiError::Forbidden { field: "origin", message: "this form may only be sent from this service's own pages".into() }
        .into_response()
}

#[derive(Template)]
#[template(path = "problem.html")]
struct Problem<'a> {
    lang: &'a str,
    en: bool,
    message: &'a str,
    field: Option<&'a str>,
    back: &'a str,
}

/// The error body's fields a page shows.
#[derive(serde::Deserialize)]
struct ErrorJson {
    error: ErrorFields,
}

#[derive(serde::Deserialize)]
struct ErrorFields {
    message: String,
    field: Option<String>,
}

/// Turns a 4xx in the API's JSON shape into a page for a browser that asked
/// for one (not the JSON API, not the widget): what is wrong, which field,
/// and a way back; status and headers (`Retry-After`, `WWW-Authenticate`)
/// stay. A plain tower layer, not `middleware::from_fn`: every request
/// passes it, and a capture request must cost no more than a path and a
/// header look.
#[derive(Debug, Clone, Copy)]
pub struct HtmlErrorsLayer;

impl<S> tower::Layer<S> for HtmlErrorsLayer {
    type Service = HtmlErrors<S>;

    fn layer(&self, inner: S) -> HtmlErrors<S> {
        HtmlErrors { inner }
    }
}

#[derive(Debug, Clone)]
pub struct HtmlErrors<S> {
    inner: S,
}

type BoxedPage = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    /// The inner service's answer as it is, or (a page was asked for) made a page.
    #[project = PageProjection]
    pub enum PageFuture<F> {
        Passed { #[pin] inner: F },
        Page { page: BoxedPage },
    }
}

impl<F: std::future::Future<Output = Result<Response, Infallible>>> std::future::Future for PageFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.project() {
            PageProjection::Passed { inner } => inner.poll(cx),
            PageProjection::Page { page } => page.as_mut().poll(cx),
        }
    }
}

impl<S> tower::Service<Request> for HtmlErrors<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = PageFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some(asked) = page_asked(&request) else {
            return PageFuture::Passed { inner: self.inner.call(request) };
        };
        let answer = self.inner.call(request);
        PageFuture::Page { page: Box::pin(async move { Ok(as_page(answer.await?, asked).await) }) }
    }
}

/// What a page answer needs to know of the request that asked for it.
struct Asked {
    en: bool,
    /// The page without its query: a path of this service only.
    back: String,
}

/// A form's or a filter's field as its page labels it; the field's own name
/// when the page has no label for it.
fn field_words(field: &str, en: bool) -> &str {
    let words = match field {
        "period" => ("Период", "Period"),
        "from" => ("Начало периода", "Start of the period"),
        "to" => ("Конец периода", "End of the period"),
        "quarter" => ("Квартал", "Quarter"),
        "touchpoint" => ("Точка взаимодействия", "Touchpoint"),
        "channel" => ("Канал", "Channel"),
        "segment" => ("Сегмент клиентов", "Client segment"),
        "stage" => ("Этап", "Stage"),
        "unit" => ("Подразделение", "Unit"),
        "status" => ("Статус", "Status"),
        "days" => ("Дней", "Days"),
        "journey" => ("Клиентский путь", "Journey"),
        _ => return field,
    };
    if en { words.1 } else { words.0 }
}

fn page_asked(request: &Request) -> Option<Asked> {
    let path = request.uri().path();
    let wants_page = !path.starts_with("/api/")
        && !path.starts_with("/widget")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if !wants_page {
        return None;
    }
    let en = request.uri().query().is_some_and(|q| q.split('&').any(|p| p.starts_with("lang=en")));
    // `//host/x` would be a link to another site.
    let own = path.starts_with('/') && !path.starts_with("//") && !path.contains('\\');
    Some(Asked { en, back: if own { path.to_string() } else { "/".to_string() } })
}

async fn as_page(response: Response, asked: Asked) -> Response {
    let json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !response.status().is_client_error() || !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // An error body is a few hundred bytes; anything else passes unread.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return ApiError::Internal(anyhow::anyhow!("an error body could not be read")).into_response();
    };
    let Ok(ErrorJson { error }) = serde_json::from_slice::<ErrorJson>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let lang = if asked.en { "en" } else { "ru" };
    let field = error.field.as_deref().map(|f| field_words(f, asked.en));
    let page = Problem { lang, en: asked.en, message: &error.message, field, back: &asked.back };
    let Ok(html) = page.render() else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let mut response = (parts.status, Html(html)).into_response();
    for (name, value) in parts.headers.iter() {
        if *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    private_pages(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    use super::same_origin as from_here;

    #[test]
    fn a_form_is_ours_by_fetch_metadata_else_by_origin_against_host() {
        let host = ("host", "feedback.example.ru");
        assert!(from_here(&headers(&[("sec-fetch-site", "same-origin"), host])));
        assert!(!from_here(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://feedback.example.ru"),
            host
        ])));
        assert!(!from_here(&headers(&[("sec-fetch-site", "same-site"), host])), "a sibling subdomain is not us");
        assert!(from_here(&headers(&[("origin", "https://feedback.example.ru"), host])));
        assert!(!from_here(&headers(&[("origin", "https://evil.example"), host])));
        assert!(!from_here(&headers(&[("origin", "null"), host])));
        assert!(!from_here(&headers(&[("origin", "https://feedback.example.ru.evil.example"), host])));
        assert!(from_here(&headers(&[host])), "no browser: nothing to forge");
    }
}
