//! The small HTML pages people see after a no-JavaScript form or a rating
//! link: Russian by default, English when the client asked for it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

#[derive(Template)]
#[template(path = "thanks.html")]
struct Thanks<'a> {
    lang: &'a str,
    en: bool,
    /// Where the optional comment form posts; none after the comment itself.
    comment_action: Option<&'a str>,
    /// The link to follow the case the rating opened.
    follow: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: &'a str,
    en: bool,
    message: &'a str,
}

/// English for locales starting with `en`, Russian otherwise.
pub fn is_english(locale: Option<&str>) -> bool {
    locale.is_some_and(|l| l.trim().to_ascii_lowercase().starts_with("en"))
}

fn lang(en: bool) -> &'static str {
    if en { "en" } else { "ru" }
}

fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => ApiError::Internal(anyhow::anyhow!("template failed: {e}")).into_response(),
    }
}

pub fn thanks(en: bool, comment_action: Option<&str>, follow: Option<&str>) -> Response {
    html(StatusCode::OK, Thanks { lang: lang(en), en, comment_action, follow }.render())
}

pub fn error(en: bool, error: ApiError) -> Response {
    let message = error.public_message();
    let mut response = html(error.status(), ErrorPage { lang: lang(en), en, message: &message }.render());
    error.decorate(&mut response);
    response
}
