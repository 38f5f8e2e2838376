//! The lab's recommendations (issue 16): each one from the journey map's
//! last column tracked from proposed to verified, with the unit that
//! carries it out, its dates, and the measure of its stage it aims to move;
//! once implemented, that measure before and after, judged honestly
//! (`effect`).
//! - `model`, `store`: a recommendation and its versions in ClickHouse;
//! - `measures`, `effect`: the numbers of its windows and the verdict;
//! - `api`, `pages`: the JSON API and the lab's page.

pub mod api;
pub mod effect;
pub mod measures;
pub mod model;
mod pages;
pub mod store;
pub mod words;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::domain::calendar::day_of;
use crate::domain::time::{Clock, unix};
use crate::error::ApiError;
use crate::storage::StorageError;
use effect::{Effect, Verdict, Windows};
use model::{Edit, Recommendation, Status};
use store::RecommendationStore;

pub use pages::router as pages_router;

/// A recommendation implemented on a day: `label` (`Р2`) is its place in
/// the journey's list of recommendations.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// Unix seconds, the UTC midnight of the day.
    pub at: u32,
    pub stage: String,
    pub label: String,
}

/// The ids of recommendations seeded from a journey file: the same text at
/// the same stage is the same recommendation on every start and instance.
const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x6a1d_5b1e_4c1c_4f0e_9a63_7d7e_1c0b_0016);

/// A recommendation with, once implemented, its windows and measured effect.
#[derive(Debug, Clone, Serialize)]
pub struct Tracked {
    #[serde(flatten)]
    pub recommendation: Recommendation,
    pub windows: Option<Windows>,
    pub effect: Option<Effect>,
}

#[derive(Clone)]
pub struct Lab {
    pub store: RecommendationStore,
    storage: crate::storage::Storage,
    pub catalog: crate::journeys::Live,
    /// Answers each window needs for a verdict (`dashboards.min_answers`).
    pub min_answers: u64,
    pub clock: Clock,
    /// The ministry's time zone: which day "today" is for the dates typed.
    pub offset: time::UtcOffset,
    /// One edit at a time in this process, so versions follow one another.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Window sums read within the last [`FRESH_FOR`], by what they read.
    recent: Arc<std::sync::Mutex<HashMap<WindowKey, (Instant, effect::Observed)>>>,
}

/// How long a window's sums are reused: the journey page, the report and
/// the API would otherwise read millions of rows per implemented
/// recommendation at every view (BENCHMARKS.md). A minute behind at most,
/// where the windows are weeks of finished days.
pub const FRESH_FOR: Duration = Duration::from_secs(60);

/// What a window read depends on: journey, stage, measure, tag, windows.
type WindowKey = (String, String, i8, String, Windows);

impl Lab {
    pub fn new(
        storage: crate::storage::Storage,
        catalog: crate::journeys::Live,
        min_answers: u64,
        clock: Clock,
        offset: time::UtcOffset,
    ) -> Lab {
        let store = RecommendationStore::new(storage.clone());
        Lab { store, storage, catalog, min_answers, clock, offset, lock: Arc::default(), recent: Arc::default() }
    }

    fn now(&self) -> u32 {
        unix((self.clock)())
    }

    /// Records each recommendation of the journey files not recorded yet,
    /// as proposed; answers how many were new.
    pub async fn seed(&self) -> Result<usize, StorageError> {
        let catalog = self.catalog.get();
        let mut seeds = Vec::new();
        for journey in catalog.journeys() {
            for stage in &journey.stages {
                for text in &stage.recommendations {
                    let id =
                        Uuid::new_v5(&SEED_NAMESPACE, format!("{}/{}/{}", journey.id, stage.id, text.ru).as_bytes());
                    let mut r = Recommendation::blank(id, "journey file", self.now());
                    (r.version, r.journey, r.stage, r.text) = (1, journey.id.clone(), stage.id.clone(), text.clone());
                    r.owner_unit = stage.unit.clone().or_else(|| journey.cases.unit.clone()).unwrap_or_default();
                    seeds.push(r);
                }
            }
        }
        let _one = self.lock.lock().await;
        let ids: Vec<Uuid> = seeds.iter().map(|r| r.id).collect();
        let existing = self.store.existing(&ids).await?;
        let mut added = 0;
        for r in seeds.iter().filter(|r| !existing.contains(&r.id)) {
            self.store.insert(r).await?;
            added += 1;
        }
        Ok(added)
    }

    /// The newest version of each recommendation of `journey` (all when
    /// empty) in the map's order: by journey, by stage along the journey, then
    /// as first recorded. Their place is their label (`Р1`).
    async fn current(&self, journey: &str) -> Result<Vec<Recommendation>, StorageError> {
        let mut current = self.store.current(journey).await?;
        let catalog = self.catalog.get();
        let stage = |r: &Recommendation| {
            let j = catalog.journey(&r.journey);
            j.and_then(|j| j.stages.iter().position(|s| s.id == r.stage)).unwrap_or(usize::MAX)
        };
        // A stable sort: the store's order (first recorded) stays within a stage.
        current.sort_by(|a, b| a.journey.cmp(&b.journey).then(stage(a).cmp(&stage(b))));
        Ok(current)
    }

    /// The recommendations of `journey` (all when empty), each implemented
    /// one with its effect; those of one journey are judged together.
    pub async fn list(&self, journey: &str) -> Result<Vec<Tracked>, ApiError> {
        let current = self.current(journey).await?;
        // Each effect is a query of its own: side by side.
        let mut reads = tokio::task::JoinSet::new();
        for (i, r) in current.iter().enumerate() {
            let judged = current.iter().filter(|o| o.journey == r.journey && judged(o)).count();
            let (lab, r) = (self.clone(), r.clone());
            reads.spawn(async move { lab.track(r, judged).await.map(|t| (i, t)) });
        }
        let mut tracked = Vec::with_capacity(current.len());
        while let Some(done) = reads.join_next().await {
            tracked.push(done.map_err(|e| ApiError::Internal(anyhow::anyhow!("an effect read failed: {e}")))??);
        }
        tracked.sort_by_key(|(i, _)| *i);
        Ok(tracked.into_iter().map(|(_, t)| t).collect())
    }

    async fn track(&self, r: Recommendation, judged_together: usize) -> Result<Tracked, ApiError> {
        let (windows, effect) = match (judged(&r), r.implemented_on) {
            (true, Some(day)) => {
                let w = effect::windows(midnight(day), u32::from(r.window_days), self.now());
                let effect = if w.days == 0 {
                    let nothing = effect::Observed::nothing(r.measure);
                    effect::judge(nothing, r.aim, self.min_answers, judged_together).waiting()
                } else {
                    let observed = self.observe(&r, &w).await?;
                    effect::judge(observed, r.aim, self.min_answers, judged_together)
                };
                (Some(w), Some(effect))
            }
            _ => (None, None),
        };
        Ok(Tracked { recommendation: r, windows, effect })
    }

    /// `r`'s measure in `w`, read anew when not read within [`FRESH_FOR`].
    async fn observe(&self, r: &Recommendation, w: &Windows) -> Result<effect::Observed, StorageError> {
        let key = (r.journey.clone(), r.stage.clone(), r.measure.code(), r.tag.clone(), *w);
        let now = Instant::now();
        let fresh = |(at, _): &(Instant, effect::Observed)| now.duration_since(*at) < FRESH_FOR;
        if let Some((_, observed)) = self.recent.lock().expect("not poisoned").get(&key).filter(|e| fresh(e)) {
            return Ok(*observed);
        }
        let observed = measures::observe(&self.storage, r, w).await?;
        let mut recent = self.recent.lock().expect("not poisoned");
        recent.retain(|_, entry| fresh(entry));
        recent.insert(key, (now, observed));
        Ok(observed)
    }

    /// The days `journey`'s recommendations were implemented, labelled by
    /// their place in its list (`Р1`, `R1`), as the timeline chart marks them.
    pub async fn marks(&self, journey: &str, en: bool) -> Result<Vec<Mark>, StorageError> {
        Ok(marks_of(&self.current(journey).await?, en))
    }

    /// A new recommendation from `edit`, recorded as version 1.
    pub async fn create(&self, edit: Edit, author: &str) -> Result<Recommendation, ApiError> {
        let edit = edit.cleaned();
        let blank = Recommendation::blank(Uuid::new_v4(), author, self.now());
        let today = day_of((self.clock)(), self.offset);
        let r = blank.edited(Edit { version: None, ..edit }, &self.catalog.get(), today, author, self.now())?;
        if r.status != Status::Proposed {
            return Err(ApiError::invalid("status", "a new recommendation is proposed"));
        }
        self.store.insert(&r).await?;
        Ok(r)
    }

    /// `id` changed by `edit` as its next version, if `caller` may.
    pub async fn update(
        &self,
        id: Uuid,
        edit: Edit,
        caller: &crate::accounts::auth::Principal,
    ) -> Result<Recommendation, ApiError> {
        let edit = edit.cleaned();
        let _one = self.lock.lock().await;
        let before = self.store.history(id).await?.into_iter().next().ok_or(ApiError::NotFound {
            what: "recommendation",
            field: "id",
            id: id.to_string(),
        })?;
        model::may_edit(caller.grant.role, &caller.grant.units, &before, &edit)?;
        let today = day_of((self.clock)(), self.offset);
        let next = before.edited(edit, &self.catalog.get(), today, &caller.name, self.now())?;
        if next.status == Status::Verified && before.status != Status::Verified {
            self.must_have_improved(&next).await?;
        }
        // Serialised across instances, not only within this one.
        if !self.store.claim_version(id, next.version).await? {
            return Err(ApiError::Conflict {
                field: "version",
                message: "another edit of this recommendation was saved at the same moment; reload and edit again"
                    .into(),
            });
        }
        self.store.insert(&next).await?;
        Ok(next)
    }

    /// Verified means the lab saw the measure improve: refused otherwise.
    async fn must_have_improved(&self, next: &Recommendation) -> Result<(), ApiError> {
        let others = self.store.current(&next.journey).await?;
        let together = others.iter().filter(|o| o.id != next.id && judged(o)).count() + 1;
        let tracked = self.track(next.clone(), together).await?;
        match tracked.effect.map(|e| e.verdict) {
            Some(Verdict::Improved) => Ok(()),
            verdict => Err(ApiError::Conflict {
                field: "status",
                message: format!(
                    "verified needs a measured improvement; the measure shows {}",
                    verdict.map_or("nothing yet", Verdict::name)
                ),
            }),
        }
    }
}

/// The days the implemented ones of `current` (a journey's, in the map's
/// order) were done, labelled by their place, for the timeline chart.
pub fn marks_of<'a>(current: impl IntoIterator<Item = &'a Recommendation>, en: bool) -> Vec<Mark> {
    current
        .into_iter()
        .enumerate()
        .filter(|(_, r)| judged(r))
        .filter_map(|(i, r)| {
            Some(Mark { at: midnight(r.implemented_on?), stage: r.stage.clone(), label: label(i, en) })
        })
        .collect()
}

/// Unix seconds of `day`'s UTC midnight, where its window starts and ends.
fn midnight(day: time::Date) -> u32 {
    day.midnight().assume_utc().unix_timestamp().max(0) as u32
}

/// The name of the `i`-th recommendation of a journey on the map, the
/// chart and the report: `Р1` (Рекомендация), `R1`.
pub fn label(i: usize, en: bool) -> String {
    format!("{}{}", if en { "R" } else { "Р" }, i + 1)
}

/// Whether a recommendation's effect is measured: it was carried out on a day.
fn judged(r: &Recommendation) -> bool {
    r.status.is_done() && r.implemented_on.is_some()
}
