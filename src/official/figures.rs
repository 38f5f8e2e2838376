//! The figures a ministry files: each question of a stage's set as its own
//! measure (mean, 1–5 distribution, n, interval), how many clients were asked
//! and how many answered per stage and touchpoint, and the standards met. Read
//! from the daily rollups (migrations 0018, 0019), through every shard.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

pub use crate::dashboards::reach::{Reach, reach};
use crate::dashboards::stats::{Filters, interval, query};
use crate::domain::questions::score_words;
use crate::journeys::model::{Journey, Text};
use crate::storage::{Storage, StorageError};

/// One question of a stage's set over the period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Criterion {
    pub stage: String,
    /// `vk5` or `custom`.
    pub question_set: String,
    pub question: String,
    /// The question's words; its id when the stage no longer asks it.
    #[schema(value_type = Object)]
    pub text: Text,
    /// Answers given.
    pub n: u64,
    /// Of answers 1, 2, 3, 4, 5.
    pub counts: [u64; 5],
    /// Under `min_answers` answers: no mean and no interval, never a zero.
    pub too_few: bool,
    /// On 1–5.
    pub mean: Option<f64>,
    pub ci95: Option<(f64, f64)>,
}

/// The service standards of the order, over the period.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Standards {
    pub calls: u64,
    /// Calls with at most two transfers (3.2.4).
    pub calls_within_transfers: u64,
    pub letters: u64,
    /// Letters whose receipt was acknowledged.
    pub letters_acknowledged: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub journey: String,
    /// Seconds since the epoch: the first day, and the day after the last.
    pub from: u32,
    pub to: u32,
    pub min_answers: u64,
    pub criteria: Vec<Criterion>,
    pub reach: Vec<Reach>,
    pub standards: Standards,
}

#[derive(Row, Deserialize)]
struct CriterionRow {
    stage: String,
    question_set: String,
    question: String,
    n: i64,
    sum: i64,
    sumsq: i64,
    counts: Vec<i64>,
}

/// Every figure of `journey` over `filters`' period.
pub async fn figures(
    storage: &Storage,
    journey: &Journey,
    filters: &Filters,
    min_answers: u64,
) -> Result<Figures, StorageError> {
    let (criteria, reach, standards) = tokio::try_join!(
        criteria(storage, journey, filters, min_answers),
        reach(storage, journey, filters),
        standards(storage, journey, filters),
    )?;
    Ok(Figures {
        journey: journey.id.clone(),
        from: filters.from,
        to: filters.to,
        min_answers,
        criteria,
        reach,
        standards,
    })
}

async fn criteria(
    storage: &Storage,
    journey: &Journey,
    filters: &Filters,
    min_answers: u64,
) -> Result<Vec<Criterion>, StorageError> {
    let (daily_where, binds) = filters.clause("day");
    let sql = format!(
        "SELECT stage, question_set, question, sum(n) AS n, sum(sum) AS sum, sum(sumsq) AS sumsq, \
         [sum(n1), sum(n2), sum(n3), sum(n4), sum(n5)] AS counts \
         FROM {} WHERE {daily_where} GROUP BY stage, question_set, question HAVING n > 0",
        storage.everywhere("answers_daily")
    );
    let rows: Vec<CriterionRow> = query(storage, &sql, &journey.id, &binds).fetch_all().await?;
    let mut out: Vec<(usize, usize, Criterion)> = rows
        .into_iter()
        .map(|r| {
            let stage = journey.stages.iter().position(|s| s.id == r.stage);
            let set = stage.and_then(|i| journey.stages[i].question_set());
            let asked = set.as_ref().and_then(|s| s.questions.iter().position(|q| q.id == r.question));
            let text = set
                .as_ref()
                .and_then(|s| s.question(&r.question))
                .map(|q| Text { ru: q.ru.clone(), en: q.en.clone() })
                .unwrap_or_else(|| Text { ru: r.question.clone(), en: r.question.clone() });
            let n = r.n.max(0) as u64;
            let too_few = n < min_answers.max(1);
            let (mean, ci95) = if too_few {
                (None, None)
            } else {
                let (mean, ci) = interval(n, r.sum as f64, r.sumsq as f64, (1.0, 5.0));
                (Some(mean), Some(ci))
            };
            let mut counts = [0u64; 5];
            for (slot, c) in counts.iter_mut().zip(&r.counts) {
                *slot = (*c).max(0) as u64;
            }
            let criterion = Criterion {
                stage: r.stage,
                question_set: r.question_set,
                question: r.question,
                text,
                n,
                counts,
                too_few,
                mean,
                ci95,
            };
            (stage.unwrap_or(usize::MAX), asked.unwrap_or(usize::MAX), criterion)
        })
        .collect();
    // The journey's order of stages, each set's order of questions.
    out.sort_by(|a, b| (a.0, a.1, &a.2.question).cmp(&(b.0, b.1, &b.2.question)));
    Ok(out.into_iter().map(|(_, _, c)| c).collect())
}

#[derive(Row, Deserialize, Default)]
struct StandardsRow {
    calls: u64,
    within: u64,
    letters: u64,
    acknowledged: u64,
}

async fn standards(storage: &Storage, journey: &Journey, filters: &Filters) -> Result<Standards, StorageError> {
    let period = Filters { touchpoint: None, channel: None, ..filters.clone() };
    let (calls_where, calls_binds) = period.clause("day");
    let (letters_where, letters_binds) = period.clause("received_at");
    // Calls from their rollup; letters by distinct id, each acknowledged once
    // any state of it was (later states only add times): no FINAL read.
    let sql = format!(
        "SELECT (SELECT toUInt64(sum(n)) FROM {calls} WHERE {calls_where}) AS calls, \
                (SELECT toUInt64(sum(n) - sum(over_two_transfers)) FROM {calls} WHERE {calls_where}) AS within, \
                (SELECT uniqExact(event_id) FROM {letters} WHERE {letters_where}) AS letters, \
                (SELECT uniqExactIf(event_id, isNotNull(acknowledged_at)) FROM {letters} WHERE {letters_where}) \
                AS acknowledged",
        calls = storage.everywhere("calls_daily"),
        letters = storage.everywhere("correspondence"),
    );
    let mut q = storage.client().query(&sql);
    // Each clause is used twice, each starting with the journey.
    for binds in [&calls_binds, &calls_binds, &letters_binds, &letters_binds] {
        q = q.bind(journey.id.as_str());
        for b in binds {
            q = q.bind(b.as_str());
        }
    }
    let row: StandardsRow = q.fetch_one().await?;
    Ok(Standards {
        calls: row.calls,
        calls_within_transfers: row.within,
        letters: row.letters,
        letters_acknowledged: row.acknowledged,
    })
}

/// The words of answer `score` (1–5) in the language asked.
pub fn answer_words(score: u8, en: bool) -> &'static str {
    if en { score_words(score).1 } else { score_words(score).0 }
}
