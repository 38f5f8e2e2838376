//! Server-rendered pages (askama; every value escaped unless marked safe).

use askama::Template;
use axum::extract::{Request, State};

use crate::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, body::Bytes};
use serde::Deserialize;

use super::charts::{self, Chart, Words};
use super::stats::{self, StageStats};
use super::{Dashboards, ViewQuery};
use crate::accounts::auth::Principal;
use crate::accounts::throttle::Verdict;
use crate::error::ApiError;
use crate::extract::parse_form;
use crate::web::duration_text;

fn render(template: impl Template) -> Result<Response, ApiError> {
    let html = template.render().map_err(|e| ApiError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok(Html(html).into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    lang: &'a str,
    en: bool,
    next: &'a str,
    error: &'a str,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    lang: Option<String>,
}

/// Where to go after logging in: a path of this service, else the dashboard.
/// Browsers drop tabs and line breaks from a `Location` and read `\` as `/`,
/// so `/\t/evil.example` would leave the site: only visible ASCII is taken
/// (percent-encoding stays encoded), and the path must resolve on our own
/// host. A line break would also have made the redirect header invalid.
fn safe_next(next: Option<&str>) -> &str {
    const HOME: &str = "/dashboard";
    let Some(next) = next else { return HOME };
    let visible = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let ours = url::Url::parse("http://touchpoint.invalid/")
        .and_then(|base| base.join(next))
        .is_ok_and(|url| url.host_str() == Some("touchpoint.invalid") && url.port().is_none());
    if visible && next.starts_with('/') && !next.starts_with("//") && ours { next } else { HOME }
}

pub async fn login_form(Query(q): Query<LoginQuery>) -> Result<Response, ApiError> {
    let en = q.lang.as_deref().is_some_and(|l| l.starts_with("en"));
    // No page asked for: the login lands on the account's own (`login`).
    let next = q.next.as_deref().filter(|n| !n.is_empty()).map_or("", |n| safe_next(Some(n)));
    render(Login { lang: if en { "en" } else { "ru" }, en, next, error: "" })
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Failed attempts are limited as `accounts::throttle` says.
#[tracing::instrument(skip_all)]
pub async fn login(State(state): State<Dashboards>, request: Request) -> Result<Response, ApiError> {
    const LIMIT: usize = 16 * 1024;
    let ip = state.auth.client(&request);
    crate::extract::refuse_declared_over(request.headers(), LIMIT)?;
    let body: Bytes =
        axum::body::to_bytes(request.into_body(), LIMIT).await.map_err(|_| ApiError::TooLarge { limit: LIMIT })?;
    let form: LoginForm = parse_form(&body)?;
    let asked = form.next.as_deref().filter(|n| !n.is_empty());
    let next = asked.map_or(String::new(), |n| safe_next(Some(n)).to_string());
    let page = |status: StatusCode, error: &str| -> Result<Response, ApiError> {
        let mut response = render(Login { lang: "ru", en: false, next: &next, error })?;
        *response.status_mut() = status;
        Ok(response)
    };
    match state.auth.may_try(ip, &form.name) {
        Verdict::Go => {}
        // Someone elsewhere is guessing this name: its analyst waits, and
        // the guesser's attempts stay as expensive.
        Verdict::After(pause) => tokio::time::sleep(pause).await,
        Verdict::Refused(retry_after) => {
            let mut response = page(StatusCode::TOO_MANY_REQUESTS, "Слишком много попыток. Подождите минуту.")?;
            ApiError::RateLimited { scope: "login", retry_after }.decorate(&mut response);
            return Ok(response);
        }
    }
    let Some(since) = state.auth.check_password(&form.name, &form.password).await? else {
        tracing::warn!(account = %form.name, "failed login");
        return page(StatusCode::UNAUTHORIZED, "Неверная учётная запись или пароль.");
    };
    state.auth.succeeded(ip, &form.name);
    tracing::info!(account = %form.name, "login");
    let next = if next.is_empty() { state.auth.home(&form.name).await?.to_string() } else { next };
    let cookie =
        HeaderValue::from_str(&state.auth.login_cookie(&form.name, since)).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

pub async fn logout(State(state): State<Dashboards>) -> Response {
    let cookie = HeaderValue::from_str(&state.auth.logout_cookie()).expect("a plain cookie header");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[derive(Template)]
#[template(path = "dash_index.html")]
struct Index<'a> {
    lang: &'a str,
    en: bool,
    analyst: &'a str,
    journeys: Vec<(&'a str, &'a str, usize)>,
}

pub async fn index(
    State(state): State<Dashboards>,
    Extension(Principal { name: analyst, .. }): Extension<Principal>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let en = q.english();
    let catalog = state.catalog.get();
    let journeys = catalog
        .journeys()
        .map(|j| (j.id.as_str(), if en { j.name.en.as_str() } else { j.name.ru.as_str() }, j.stages.len()))
        .collect();
    render(Index { lang: if en { "en" } else { "ru" }, en, analyst: &analyst, journeys })
}

struct Column {
    number: usize,
    name: String,
    goal: String,
    touchpoints: String,
    too_few: bool,
    n: u64,
    score: String,
    ci: String,
    emotion: String,
    time: String,
    /// The lab's recommendations for the stage, each with its status and effect.
    recommendations: Vec<String>,
    /// How the cases the stage's ratings opened were handled, line by line.
    cases: Vec<String>,
    /// Per touchpoint, clients who answered of those asked.
    reach: Vec<String>,
    negative: Vec<String>,
    positive: Vec<String>,
}

struct ChartView {
    name: &'static str,
    svg: String,
}

#[derive(Template)]
#[template(path = "dash_journey.html")]
struct JourneyPage<'a> {
    lang: &'a str,
    en: bool,
    analyst: &'a str,
    title: String,
    journey: &'a str,
    period: u32,
    period_text: String,
    touchpoint: String,
    channel: String,
    segment: String,
    touchpoints: Vec<(String, String)>,
    channels: Vec<String>,
    segments: Vec<(&'static str, &'static str)>,
    query: String,
    other_lang_url: String,
    export_base: String,
    columns: Vec<Column>,
    charts: Vec<ChartView>,
}

/// `ЕПГУ: 5 of 10 asked (50%)` per touchpoint of `stage` where anyone was
/// asked or answered; answers of a source that counts no offers follow apart.
fn reach_lines(
    reach: &[super::reach::Reach],
    stage: &str,
    catalog: &crate::journeys::Catalog,
    en: bool,
) -> Vec<String> {
    reach
        .iter()
        .filter(|r| r.stage == stage)
        .map(|r| {
            let name = catalog
                .touchpoint(&r.touchpoint)
                .map_or_else(|| r.touchpoint.clone(), |t| if en { t.name.en.clone() } else { t.name.ru.clone() });
            if r.offered == 0 {
                // Nothing counts offers here (or none by segment): no rate.
                let none = if en {
                    "answered, no offer counted"
                } else {
                    "ответили, предложений не учтено"
                };
                return format!("{name}: {} {none}", r.answered);
            }
            let of = if en { "of" } else { "из" };
            let asked = if en { "asked" } else { "опрошенных" };
            let mut line = format!("{name}: {} {of} {} {asked} ({})", r.answered_offered, r.offered, percent(r.rate));
            if r.unoffered > 0 {
                let without = if en {
                    "more without an offer counted"
                } else {
                    "ещё без учтённого предложения"
                };
                line += &format!("; {} {without}", r.unoffered);
            }
            line
        })
        .collect()
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.0}%", v * 100.0))
}

#[tracing::instrument(skip_all, fields(journey = %id))]
pub async fn journey(
    State(state): State<Dashboards>,
    Extension(Principal { name: analyst, .. }): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let en = q.english();
    let catalog = state.catalog.get();
    let filters = q.filters(catalog.journey_or_404(&id)?, &catalog, state.now())?;
    // A past period shows the stages and touchpoints as they were then.
    let journey = &state.as_of(catalog.journey_or_404(&id)?, filters.to).await?;
    let book = crate::cases::CaseBook::new(state.storage.clone());
    let now = state.now();
    let handled = crate::cases::report::per_stage(&book, journey, filters.from, filters.to, now);
    let api = |e| ApiError::from(e);
    let (mut stats, comments, handled, tracked, reach) = tokio::try_join!(
        async {
            stats::journey_stats(&state.storage, journey, &filters, state.min_answers, stats::Parts::ALL)
                .await
                .map_err(api)
        },
        async { stats::comments(&state.storage, &journey.id, &filters, 5).await.map_err(api) },
        async { handled.await.map_err(api) },
        state.lab.list(&journey.id),
        async { super::reach::reach(&state.storage, journey, &filters).await.map_err(api) },
    )?;
    stats.marks = crate::recommendations::marks_of(tracked.iter().map(|t| &t.recommendation), en);
    let words = Words { en };
    let mut charts = Vec::new();
    for chart in Chart::ALL {
        let svg = charts::svg(chart, &stats, &words).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
        charts.push(ChartView { name: chart.name(), svg });
    }
    let text = |t: &crate::journeys::model::Text| if en { t.en.clone() } else { t.ru.clone() };
    let figures = StageFigures { comments: &comments, tracked: &tracked, handled: &handled, reach: &reach };
    let columns =
        journey.stages.iter().zip(&stats.stages).map(|(stage, s)| column(stage, s, &figures, &catalog, en)).collect();
    let (touchpoints, channels, segments) = filter_options(journey, &catalog, en);
    let query = q.query_string();
    let other = ViewQuery { lang: if en { None } else { Some("en".into()) }, ..q.clone() };
    let day = |t: u32| {
        humantime::format_rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.into())).to_string()[..10]
            .to_string()
    };
    render(JourneyPage {
        lang: if en { "en" } else { "ru" },
        en,
        analyst: &analyst,
        title: text(&journey.name),
        journey: &journey.id,
        period: q.period(),
        period_text: format!("{} — {}", day(filters.from), day(filters.to.saturating_sub(1))),
        touchpoint: filters.touchpoint.clone().unwrap_or_default(),
        channel: filters.channel.clone().unwrap_or_default(),
        segment: filters.segment.clone().unwrap_or_default(),
        touchpoints,
        channels,
        segments,
        query,
        other_lang_url: format!("/dashboard/{}?{}", journey.id, other.query_string()),
        export_base: format!("/dashboard/{}", journey.id),
        columns,
        charts,
    })
}

/// What the map shows of every stage beside its statistics.
struct StageFigures<'a> {
    comments: &'a [stats::Comment],
    tracked: &'a [crate::recommendations::Tracked],
    handled: &'a [crate::cases::report::StageCases],
    reach: &'a [super::reach::Reach],
}

/// One stage's column of the map, in the page's language.
fn column(
    stage: &crate::journeys::model::Stage,
    s: &StageStats,
    figures: &StageFigures,
    catalog: &crate::journeys::Catalog,
    en: bool,
) -> Column {
    let text = |t: &crate::journeys::model::Text| if en { t.en.clone() } else { t.ru.clone() };
    let comments_of = |emotion: &str| {
        figures
            .comments
            .iter()
            .filter(|c| c.stage == stage.id && c.emotion == emotion)
            .map(|c| c.comment.clone())
            .collect()
    };
    Column {
        number: s.number,
        name: text(&stage.name),
        goal: text(&stage.goal),
        touchpoints: stage
            .touchpoints
            .iter()
            .filter_map(|t| catalog.touchpoint(t))
            .map(|t| match &t.excluded_since {
                None => text(&t.name),
                Some(day) if en => format!("{} (excluded since {day})", text(&t.name)),
                Some(day) => format!("{} (исключена с {day})", text(&t.name)),
            })
            .collect::<Vec<_>>()
            .join("; "),
        too_few: s.score.too_few,
        n: s.score.n,
        score: s.score.score.map_or_else(String::new, |v| format!("{v:.0}")),
        ci: s.score.ci95.map_or_else(String::new, |(lo, hi)| format!("95%: {lo:.0}–{hi:.0}")),
        emotion: match s.score.emotion {
            Some(e) => format!("{e:+.0} ({} +, {} −)", percent(s.score.positive), percent(s.score.negative)),
            None => "—".into(),
        },
        time: time_text(s, en),
        recommendations: crate::recommendations::words::map_lines(figures.tracked, &stage.id, en),
        cases: figures.handled.iter().find(|c| c.stage == stage.id).map_or_else(Vec::new, |c| case_lines(c, en)),
        reach: reach_lines(figures.reach, &stage.id, catalog, en),
        negative: comments_of("negative"),
        positive: comments_of("positive"),
    }
}

/// A stage's time spent: median and p90 against the target.
fn time_text(s: &StageStats, en: bool) -> String {
    match (s.time.median_ms, s.time.p90_ms) {
        (Some(m), Some(p)) => format!(
            "{} {}, p90 {}{} (n={})",
            if en { "median" } else { "медиана" },
            duration_text(m, en),
            duration_text(p, en),
            s.time.target_ms.map_or(String::new(), |t| format!(
                "; {} {}",
                if en { "target" } else { "цель" },
                duration_text(t as f64, en)
            )),
            s.time.n
        ),
        _ if en => "no data".into(),
        _ => "нет данных".into(),
    }
}

/// The filters' choices: the journey's touchpoints (id, name), its
/// channels, and the client segments (value, name).
#[allow(clippy::type_complexity)]
fn filter_options(
    journey: &crate::journeys::model::Journey,
    catalog: &crate::journeys::Catalog,
    en: bool,
) -> (Vec<(String, String)>, Vec<String>, Vec<(&'static str, &'static str)>) {
    let text = |t: &crate::journeys::model::Text| if en { t.en.clone() } else { t.ru.clone() };
    let mut touchpoints: Vec<(String, String)> = Vec::new();
    for t in journey.stages.iter().flat_map(|s| &s.touchpoints) {
        if !touchpoints.iter().any(|(id, _)| id == t)
            && let Some(tp) = catalog.touchpoint(t)
        {
            touchpoints.push((t.clone(), text(&tp.name)));
        }
    }
    let mut channels: Vec<String> = journey
        .stages
        .iter()
        .flat_map(|s| &s.touchpoints)
        .filter_map(|t| catalog.touchpoint(t))
        .map(|t| t.channel.name())
        .collect();
    channels.sort();
    channels.dedup();
    let segments = if en {
        vec![
            ("individual", "individuals"),
            ("legal_entity", "legal entities"),
            ("sole_proprietor", "sole proprietors"),
            ("internal", "internal clients"),
        ]
    } else {
        vec![
            ("individual", "физические лица"),
            ("legal_entity", "юридические лица"),
            ("sole_proprietor", "ИП"),
            ("internal", "внутренние клиенты"),
        ]
    };
    (touchpoints, channels, segments)
}

/// A stage's case figures for the map, in the page's language.
fn case_lines(c: &crate::cases::report::StageCases, en: bool) -> Vec<String> {
    if c.opened == 0 {
        return vec![if en { "no cases" } else { "случаев нет" }.to_string()];
    }
    let hours =
        |v: Option<f64>| v.map_or_else(|| "—".to_string(), |h| format!("{h:.0} {}", if en { "h" } else { "ч" }));
    let pick = |ru: &'static str, en_: &'static str| if en { en_ } else { ru };
    let mut lines = vec![
        format!("{} {}", pick("открыто", "opened"), c.opened),
        format!(
            "{}: {} {}, {} {}",
            pick("вовремя", "in time"),
            pick("подтверждено", "acknowledged"),
            c.acknowledged_in_time,
            pick("ответ", "answered"),
            c.answered_in_time
        ),
        format!(
            "{} {} ({} {})",
            pick("медиана до подтверждения", "median to acknowledge"),
            hours(c.median_hours_to_acknowledge),
            pick("срок", "allowed"),
            hours(c.median_hours_allowed_to_acknowledge)
        ),
        format!(
            "{} {} ({} {})",
            pick("медиана до ответа", "median to answer"),
            hours(c.median_hours_to_answer),
            pick("срок", "allowed"),
            hours(c.median_hours_allowed_to_answer)
        ),
        format!("{} {} ({})", pick("просрочено", "overdue"), c.overdue, percent(c.share_overdue)),
    ];
    lines.push(match c.handling_satisfaction {
        Some(s) => format!(
            "{} {s:.1} {} 5 (n={})",
            pick("оценка ответа", "answer rated"),
            pick("из", "of"),
            c.handling_ratings
        ),
        None => pick("ответ не оценивали", "no answer rated").to_string(),
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn after_login_only_a_path_of_this_service_is_followed() {
        for ours in ["/dashboard", "/dashboard/journeys/scrap-metal-licensing?period=30", "/%2F/evil.example"] {
            assert_eq!(safe_next(Some(ours)), ours);
        }
        let elsewhere = [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\u{0}/evil.example",
            "/ /evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "evil.example",
            "/\u{3000}/evil.example",
            "/\u{7f}/evil.example",
            "",
        ];
        for next in elsewhere {
            assert_eq!(safe_next(Some(next)), "/dashboard", "{next:?}");
        }
        assert_eq!(safe_next(None), "/dashboard");
    }

    proptest::proptest! {
        /// Whatever comes in, what goes out resolves on this service's own host.
        #[test]
        fn any_next_stays_on_this_host(next in "(?s).{0,40}") {
            let target = safe_next(Some(&next));
            let url = url::Url::parse("https://ministry.example/").unwrap().join(target).unwrap();
            proptest::prop_assert_eq!(url.host_str(), Some("ministry.example"));
            proptest::prop_assert!(axum::http::HeaderValue::from_str(target).is_ok());
        }
    }
}
