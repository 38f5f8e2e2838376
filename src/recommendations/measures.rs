//! A recommendation's measure in its two windows, read from ClickHouse: the
//! score, the emotion shares and the number of answers from the daily rollup
//! (migration 0006, corrected when an e-mail rating is replaced), a tag's
//! answers and the log-times from the stored events, a question's answers
//! from theirs (migration 0018).
//!
//! No read here needs `FINAL`, which costs five times the read at millions of
//! rows: the only rows ever replaced are e-mail ratings (`storage::key::
//! supersede`), and an e-mail rating carries neither tags nor a reported
//! duration (`storage::rows::Rating::row`). So each tagged answer and each
//! time is one stored row, and the answers a share is taken of come from the
//! corrected rollup, as the dashboards count them.

use clickhouse::Row;
use serde::Deserialize;

use super::effect::{Counts, Observed, Sums, Windows};
use super::model::Recommendation;
use crate::domain::Measure;
use crate::storage::{Storage, StorageError};

#[derive(Debug, Row, Deserialize)]
struct Pair {
    n_before: u64,
    x_before: f64,
    y_before: f64,
    n_after: u64,
    x_after: f64,
    y_after: f64,
}

enum Bind {
    At(u32),
    Text(String),
}

/// One source of values: a table, its time column and how a bound second
/// is compared to it, and the per-row count, value and square.
struct Source {
    table: &'static str,
    time: &'static str,
    bound: &'static str,
    n: &'static str,
    x: &'static str,
    y: &'static str,
    /// A condition of the source's own.
    only: &'static str,
}

const DAILY: Source = Source {
    table: "feedback_daily",
    time: "day",
    bound: "toDate(toDateTime(?), 'UTC')",
    n: "n",
    x: "sum",
    y: "sumsq",
    only: "",
};

impl Source {
    /// The rows of the stage in either window, flagged `b` (before) or `a`
    /// (after); the day between is read by neither. Its binds: [`Source::binds`].
    fn branch(&self, table: &dyn Fn(&str) -> String) -> String {
        let (t, q) = (self.time, self.bound);
        let window = format!("({t} >= {q} AND {t} < {q})");
        format!(
            "SELECT {window} AS b, {window} AS a, toFloat64({}) AS n_, toFloat64({}) AS x_, toFloat64({}) AS y_ FROM {} \
             WHERE journey = ? AND stage = ? AND {window}{}",
            self.n,
            self.x,
            self.y,
            table(self.table),
            self.only
        )
    }

    /// The values of [`Source::branch`]'s `?`, in order.
    fn binds(&self, w: &Windows, r: &Recommendation) -> Vec<Bind> {
        let mut binds = vec![Bind::At(w.before.0), Bind::At(w.before.1), Bind::At(w.after.0), Bind::At(w.after.1)];
        if self.x.contains('?') {
            binds.push(Bind::Text(r.tag.clone()));
        }
        binds.extend([Bind::Text(r.journey.clone()), Bind::Text(r.stage.clone())]);
        binds.extend([Bind::At(w.before.0), Bind::At(w.after.1)]);
        if self.only.contains('?') {
            binds.push(Bind::Text(r.question.clone()));
        }
        binds
    }
}

fn sources(measure: Measure) -> Vec<Source> {
    let events = |table, x, y, only| Source { table, time: "occurred_at", bound: "toDateTime(?)", n: "1", x, y, only };
    match measure {
        Measure::StageScore => vec![DAILY],
        Measure::PositiveShare => vec![Source { x: "positive", y: "0", ..DAILY }],
        Measure::NegativeShare => vec![Source { x: "negative", y: "0", ..DAILY }],
        // The answers from the rollup, the tagged ones from the ratings.
        Measure::TagShare => vec![
            Source { x: "0", y: "0", ..DAILY },
            Source { n: "0", ..events("feedback", "has(tags, ?)", "0", " AND notEmpty(tags)") },
        ],
        // One question's answers from their rollup (migration 0018).
        Measure::Criterion => {
            vec![Source { table: "answers_daily", n: "n", x: "sum", y: "sumsq", only: " AND question = ?", ..DAILY }]
        }
        // The two sources of the stage times the dashboards read (migration 0006).
        Measure::TimeSpent => vec![
            events(
                "timings",
                "log(greatest(duration_ms, 1))",
                "pow(log(greatest(duration_ms, 1)), 2)",
                " AND measure = 'task'",
            ),
            events(
                "feedback",
                "log(greatest(assumeNotNull(reported_duration_ms), 1))",
                "pow(log(greatest(assumeNotNull(reported_duration_ms), 1)), 2)",
                " AND isNotNull(reported_duration_ms)",
            ),
        ],
    }
}

/// The query of a measure: sums of both windows in one row, each table
/// read as `table` names it (every shard's rows on a cluster).
pub fn statement(measure: Measure, table: &dyn Fn(&str) -> String) -> String {
    let branches: Vec<String> = sources(measure).iter().map(|s| s.branch(table)).collect();
    format!(
        "SELECT toUInt64(sumIf(n_, b)) AS n_before, sumIf(x_, b) AS x_before, sumIf(y_, b) AS y_before, \
         toUInt64(sumIf(n_, a)) AS n_after, sumIf(x_, a) AS x_after, sumIf(y_, a) AS y_after FROM ({})",
        branches.join(" UNION ALL ")
    )
}

/// What `r`'s measure was in `w`.
pub async fn observe(storage: &Storage, r: &Recommendation, w: &Windows) -> Result<Observed, StorageError> {
    let mut q = storage.client().query(&statement(r.measure, &|t| storage.everywhere(t)));
    for b in sources(r.measure).iter().flat_map(|s| s.binds(w, r)) {
        q = match b {
            Bind::At(at) => q.bind(at),
            Bind::Text(s) => q.bind(s),
        };
    }
    let p: Pair = q.fetch_one().await?;
    let sums = |n, sum, sumsq| Sums { n, sum, sumsq };
    let counts = |n, hits: f64| Counts { n, hits: hits.round() as u64 };
    Ok(match r.measure {
        Measure::StageScore | Measure::Criterion => Observed::Mean {
            before: sums(p.n_before, p.x_before, p.y_before),
            after: sums(p.n_after, p.x_after, p.y_after),
        },
        Measure::TimeSpent => Observed::LogMean {
            before: sums(p.n_before, p.x_before, p.y_before),
            after: sums(p.n_after, p.x_after, p.y_after),
        },
        _ => Observed::Share { before: counts(p.n_before, p.x_before), after: counts(p.n_after, p.x_after) },
    })
}

#[cfg(test)]
mod tests {
    use crate::domain::Scale;
    use crate::storage::rows::Rating;

    /// What lets the effect read the ratings without `FINAL`: the one kind
    /// of rating ever replaced, the e-mail link's, starts from this row.
    #[test]
    fn an_email_rating_has_no_tags_and_no_reported_time() {
        let catalog =
            crate::journeys::Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards"))
                .expect("the example catalog loads");
        let touchpoint = catalog.touchpoint("site").expect("the example has a site");
        let rating = Rating {
            event_id: uuid::Uuid::nil(),
            occurred_at: 0,
            received_at: 0,
            journey: "j",
            stage: "s",
            touchpoint: &touchpoint.id,
            channel: touchpoint.channel,
            scale: Scale::Csat,
            score: 2,
        };
        let row = rating.row();
        assert!(row.tags.is_empty() && row.reported_duration_ms.is_none(), "{row:?}");
    }
}
