//! `touchpoint seed`: realistic synthetic events for a journey, so the
//! dashboards can be shown, tested and timed before real clients arrive.
//! Scores differ by stage the way the example map describes them (stage 1's
//! search and stage 3's outages hurt), comments are Russian, durations sit
//! around each stage's target, calls and letters follow the order's standards
//! most of the time.

use std::time::SystemTime;

use clickhouse::RowOwned;
use clickhouse::RowWrite;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use uuid::Uuid;

use crate::domain::time::unix;
use crate::domain::{Scale, Segment};
use crate::journeys::Catalog;
use crate::journeys::model::{Journey, Metric};
use crate::storage::rows::{CallRow, FeedbackRow, LetterRow, OfferRow, Rating, TimingRow};
use crate::storage::{Storage, StorageError};

const BATCH: u64 = 100_000;

const NEGATIVE: &[&str] = &[
    "Долго искал нужную информацию на сайте",
    "Не смог дозвониться с первого раза",
    "Сервис на портале не работал, пришлось ждать",
    "Непонятно, какие документы нужны",
    "Переключали между сотрудниками несколько раз",
    "Ответ на письмо пришёл слишком поздно",
];
const POSITIVE: &[&str] = &[
    "Сотрудник всё подробно объяснил",
    "Быстро и понятно, спасибо",
    "Удобно подавать заявление онлайн",
    "Получил лицензию в срок",
    "Вежливо и по делу",
];

/// What one run wrote.
#[derive(Debug, Default, PartialEq)]
pub struct Seeded {
    pub feedback: u64,
    pub timings: u64,
    pub calls: u64,
    pub letters: u64,
}

/// Mean satisfaction (csat 1–5) of a stage, by its place on the map.
fn stage_mean(index: usize) -> f64 {
    [2.8, 3.6, 3.0, 4.2, 3.9].get(index).copied().unwrap_or(3.5)
}

fn normal(rng: &mut impl Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn around(rng: &mut impl Rng, median: f64, spread: f64) -> f64 {
    median * (spread * normal(rng)).exp()
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

async fn write<T: RowOwned + RowWrite>(storage: &Storage, table: &str, rows: &[T]) -> Result<(), StorageError> {
    let mut insert = storage.client().insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(())
}

/// How to seed.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Over the last this many days.
    pub days: u32,
    /// Draw a progress bar.
    pub progress: bool,
    /// Ask before each answer as the real channels do (`offers`): the widget
    /// shown two to six times per rating on a web touchpoint (opened once),
    /// a letter's links sent, a call logged. The demo does; the benchmarks,
    /// which measure the rollups of ratings, do not.
    pub offers: bool,
}

/// Writes `events` ratings and as many timings over the last `days` days, a
/// call for every tenth and a letter for every two hundredth: written letters
/// are rare beside ratings left on a website.
pub async fn seed(
    storage: &Storage,
    catalog: &Catalog,
    journey: &Journey,
    events: u64,
    Options { days, progress, offers: asked }: Options,
) -> Result<Seeded, StorageError> {
    let bar = progress_bar(events, progress);
    let now = unix(SystemTime::now());
    let span = days.max(1) * 86_400;
    let mut done = Seeded::default();
    let mut rng = rand::rng();
    while done.feedback < events {
        let n = BATCH.min(events - done.feedback);
        let mut feedback = Vec::with_capacity(n as usize);
        let mut timings = Vec::with_capacity(n as usize);
        let mut calls = Vec::new();
        let mut letters = Vec::new();
        let mut offers = Vec::new();
        for k in 0..n {
            let i = rng.random_range(0..journey.stages.len());
            let stage = &journey.stages[i];
            let touchpoint_id: &String = pick(&mut rng, &stage.touchpoints);
            let touchpoint = catalog.touchpoint(touchpoint_id).expect("validated at load");
            let at = now - rng.random_range(0..span);
            let segment = if rng.random_bool(0.6) { Segment::LegalEntity } else { Segment::SoleProprietor };
            let score = (stage_mean(i) + 1.1 * normal(&mut rng)).round().clamp(1.0, 5.0) as u8;
            let rating = Rating {
                event_id: Uuid::new_v4(),
                occurred_at: at,
                received_at: at,
                journey: &journey.id,
                stage: &stage.id,
                touchpoint: &touchpoint.id,
                channel: touchpoint.channel,
                scale: Scale::Csat,
                score,
            };
            let target_ms = stage.metrics.iter().find_map(|m| match m {
                Metric::TimeSpent { target: Some(d) } => Some(d.as_millis() as f64),
                _ => None,
            });
            let task_ms = around(&mut rng, target_ms.unwrap_or(3_600_000.0) * (0.8 + 0.2 * i as f64), 0.7);
            let comment = synthetic_comment(&mut rng, score);
            if asked {
                offers.extend(asked_before(&mut rng, &rating));
            }
            feedback.push(FeedbackRow {
                site: "demo".into(),
                segment: Segment::code(Some(segment)),
                comment,
                reported_duration_ms: rng.random_bool(0.3).then_some(task_ms as u64),
                locale: "ru".into(),
                session_id: format!("seed-{}", k % 5000),
                ..rating.row()
            });
            timings.push(synthetic_timing(&mut rng, &rating, task_ms, &format!("seed-{}", k % 5000), segment));
            if k % 10 == 0 {
                calls.push(synthetic_call(&mut rng, journey, i, at, segment));
            }
            if k % 200 == 0 {
                letters.push(synthetic_letter(&mut rng, journey, stage, at, now, segment));
            }
        }
        write(storage, "feedback", &feedback).await?;
        write(storage, "timings", &timings).await?;
        write(storage, "calls", &calls).await?;
        write(storage, "correspondence", &letters).await?;
        write(storage, "offers", &offers).await?;
        done.feedback += n;
        done.timings += n;
        done.calls += calls.len() as u64;
        done.letters += letters.len() as u64;
        bar.set_position(done.feedback);
    }
    bar.finish_and_clear();
    Ok(done)
}

/// What some clients write: the unhappy more often than the happy.
fn synthetic_comment(rng: &mut impl Rng, score: u8) -> String {
    match score {
        1 | 2 if rng.random_bool(0.4) => pick(rng, NEGATIVE).to_string(),
        5 if rng.random_bool(0.2) => pick(rng, POSITIVE).to_string(),
        _ => String::new(),
    }
}

/// A task or page timing of the rated contact, measured or reported.
fn synthetic_timing(rng: &mut impl Rng, rating: &Rating, task_ms: f64, session: &str, segment: Segment) -> TimingRow {
    TimingRow {
        event_id: Uuid::new_v4(),
        occurred_at: rating.occurred_at,
        received_at: rating.received_at,
        site: "demo".into(),
        journey: rating.journey.to_string(),
        stage: rating.stage.to_string(),
        touchpoint: rating.touchpoint.to_string(),
        channel: rating.channel.name(),
        segment: Segment::code(Some(segment)),
        measure: if rng.random_bool(0.5) { 2 } else { 1 }, // task or page dwell
        source: if rng.random_bool(0.5) { 1 } else { 2 },
        duration_ms: if rng.random_bool(0.5) { task_ms as u64 } else { around(rng, 90_000.0, 0.8) as u64 },
        session_id: session.into(),
        page_path: "/licenzirovanie/".into(),
    }
}

/// A call logged at stage `i` (or the first two: calls are about the start).
fn synthetic_call(rng: &mut impl Rng, journey: &Journey, i: usize, at: u32, segment: Segment) -> CallRow {
    let transfers = *pick(rng, &[0u8, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4]);
    CallRow {
        event_id: Uuid::new_v4(),
        started_at: at,
        received_at: at,
        journey: journey.id.clone(),
        stage: journey.stages[i.min(1)].id.clone(),
        touchpoint: "phone".into(),
        process: if rng.random_bool(0.5) { "consulting" } else { "informing" }.into(),
        operator: format!("op-{}", rng.random_range(1..12)),
        segment: Segment::code(Some(segment)),
        wait_seconds: around(rng, 40.0, 0.8) as u32,
        talk_seconds: around(rng, 240.0, 0.6) as u32,
        transfers,
        resolved: u8::from(transfers < 3 && rng.random_bool(0.85)),
        rating_scale: 0,
        rating_score: None,
    }
}

/// A letter at `stage`, acknowledged and answered (most of them) by `now`.
fn synthetic_letter(
    rng: &mut impl Rng,
    journey: &Journey,
    stage: &crate::journeys::model::Stage,
    at: u32,
    now: u32,
    segment: Segment,
) -> LetterRow {
    let ack = rng.random_bool(0.9).then(|| at + around(rng, 3.0 * 3600.0, 1.0) as u32);
    let answer = rng.random_bool(0.8).then(|| at + around(rng, 60.0 * 3600.0, 0.9) as u32);
    LetterRow {
        event_id: Uuid::new_v4(),
        letter_id: format!("seed-{}", Uuid::new_v4().simple()),
        received_at: at,
        acknowledged_at: ack.filter(|t| *t <= now),
        answered_at: answer.filter(|t| *t <= now),
        updated_at: now,
        journey: journey.id.clone(),
        stage: stage.id.clone(),
        touchpoint: "email".into(),
        process: "consulting".into(),
        segment: Segment::code(Some(segment)),
    }
}

/// A bar counting `events`, drawn only when `shown`.
fn progress_bar(events: u64, shown: bool) -> ProgressBar {
    let bar = if shown { ProgressBar::new(events) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events, {per_sec}, {eta} left").expect("a valid template"),
    );
    bar
}

/// The offers a real channel makes before `rating`: a call logged, a
/// letter's links sent, or the widget shown two to six times and opened once.
fn asked_before(rng: &mut impl Rng, rating: &Rating<'_>) -> Vec<OfferRow> {
    let offer = |kind: i8| OfferRow {
        event_id: Uuid::new_v4(),
        occurred_at: rating.occurred_at,
        received_at: rating.received_at,
        site: "demo".into(),
        journey: rating.journey.to_string(),
        stage: rating.stage.to_string(),
        touchpoint: rating.touchpoint.to_string(),
        channel: rating.channel.name(),
        kind,
        question_set: String::new(),
    };
    match rating.channel.name().as_str() {
        "phone" => vec![offer(OFFER_CALL)],
        "email" => vec![offer(OFFER_SENT)],
        _ => (0..rng.random_range(2..=6)).map(|_| offer(OFFER_SHOWN)).chain([offer(OFFER_OPENED)]).collect(),
    }
}

/// The codes of `offers.kind` (migrations 0019, 0022).
const OFFER_SHOWN: i8 = 1;
const OFFER_OPENED: i8 = 2;
const OFFER_SENT: i8 = 3;
const OFFER_CALL: i8 = 4;

/// True when the journey has no rating yet (the demo seeds only an empty one).
pub async fn is_empty(storage: &Storage, journey: &str) -> Result<bool, StorageError> {
    let n: u64 =
        storage.client().query("SELECT count() FROM feedback WHERE journey = ?").bind(journey).fetch_one().await?;
    Ok(n == 0)
}
