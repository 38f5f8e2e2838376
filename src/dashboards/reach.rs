//! Response rates: per stage and touchpoint, who was asked and who
//! answered, from the rollups alone. The journey map shows them and the
//! official report prints them (`crate::official`).

use std::collections::BTreeMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::stats::{Filters, query};
use crate::journeys::model::Journey;
use crate::storage::{Storage, StorageError};

/// Clients asked and clients who answered at one touchpoint of a stage.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Reach {
    pub stage: String,
    pub touchpoint: String,
    /// The widget shown on a page.
    pub shown: u64,
    /// The widget opened, or begun to answer.
    pub opened: u64,
    /// Letters whose rating links were made.
    pub sent: u64,
    /// Calls logged at this stage (each one a chance to ask; `offers` kind `call`).
    pub calls: u64,
    /// shown + sent + calls.
    pub offered: u64,
    /// Single ratings.
    pub ratings: u64,
    /// Question-set responses.
    pub sets: u64,
    /// ratings + sets.
    pub answered: u64,
    /// Of the answers, as many as there were offers: the answers that can
    /// stand for an offer (`min(answered, offered)`).
    pub answered_offered: u64,
    /// Answers beyond the offers counted: they came from a source that does
    /// not count its offers (a site's own form posting to the API).
    pub unoffered: u64,
    /// answered_offered / offered, never above 1; none when nothing was offered.
    pub rate: Option<f64>,
}

#[derive(Row, Deserialize)]
struct Count {
    stage: String,
    touchpoint: String,
    kind: String,
    n: i64,
}

/// Per stage and touchpoint, in the journey's order: who was asked, who answered.
pub async fn reach(storage: &Storage, journey: &Journey, filters: &Filters) -> Result<Vec<Reach>, StorageError> {
    let (daily_where, binds) = filters.clause("day");
    let offers = format!(
        "SELECT stage, touchpoint, toString(kind) AS kind, sum(n) AS n FROM {} WHERE {daily_where} \
         GROUP BY stage, touchpoint, kind",
        storage.everywhere("offers_daily")
    );
    let ratings = format!(
        "SELECT stage, touchpoint, 'rating' AS kind, sum(n) AS n FROM {} WHERE {daily_where} GROUP BY stage, touchpoint",
        storage.everywhere("feedback_daily")
    );
    let sets = format!(
        "SELECT stage, touchpoint, 'set' AS kind, sum(responses) AS n FROM {} WHERE {daily_where} \
         GROUP BY stage, touchpoint",
        storage.everywhere("answers_daily")
    );
    let fetch = |sql: String| {
        let binds = binds.clone();
        async move { query(storage, &sql, &journey.id, &binds).fetch_all::<Count>().await }
    };
    // Who was asked has no segment (a client names one only by answering):
    // with a segment chosen nothing counts as offered, and no rate is shown,
    // rather than one segment's answers over everyone's offers.
    let offers = async {
        match filters.segment {
            Some(_) => Ok(Vec::new()),
            None => fetch(offers).await,
        }
    };
    let (a, b, c) = tokio::try_join!(offers, fetch(ratings), fetch(sets))?;
    let mut cells: BTreeMap<(usize, String), Reach> = BTreeMap::new();
    for count in a.into_iter().chain(b).chain(c) {
        let order = journey.stages.iter().position(|s| s.id == count.stage).unwrap_or(usize::MAX);
        let cell = cells.entry((order, count.touchpoint.clone())).or_insert_with(|| Reach {
            stage: count.stage.clone(),
            touchpoint: count.touchpoint.clone(),
            ..Reach::default()
        });
        let n = count.n.max(0) as u64;
        match count.kind.as_str() {
            "shown" => cell.shown += n,
            "opened" => cell.opened += n,
            "sent" => cell.sent += n,
            "call" => cell.calls += n,
            "rating" => cell.ratings += n,
            _ => cell.sets += n,
        }
    }
    Ok(cells
        .into_values()
        .map(|mut r| {
            r.offered = r.shown + r.sent + r.calls;
            r.answered = r.ratings + r.sets;
            // A rate is answers over the offers of the same channel: answers
            // of a source that counts no offers are reported apart, never
            // divided by another source's offers.
            r.answered_offered = r.answered.min(r.offered);
            r.unoffered = r.answered - r.answered_offered;
            r.rate = (r.offered > 0).then(|| r.answered_offered as f64 / r.offered as f64);
            r
        })
        .collect())
}
