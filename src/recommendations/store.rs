//! Recommendations in ClickHouse (migration 0017): one row per version.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{Recommendation, Status};
use crate::domain::{Aim, Measure};
use crate::journeys::model::Text;
use crate::storage::{Storage, StorageError};

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct RecommendationRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub version: u32,
    pub journey: String,
    pub stage: String,
    pub text_ru: String,
    pub text_en: String,
    pub status: i8,
    pub owner_unit: String,
    pub planned_on: String,
    pub implemented_on: String,
    pub measure: i8,
    pub tag: String,
    pub question: String,
    pub aim: i8,
    pub window_days: u16,
    pub note: String,
    pub author: String,
    pub changed_at: u32,
}

const COLUMNS: &str = "id, version, journey, stage, text_ru, text_en, status, owner_unit, planned_on, \
    implemented_on, measure, tag, question, aim, window_days, note, author, toUInt32(changed_at) AS changed";

fn day(d: Option<time::Date>) -> String {
    d.map_or_else(String::new, |d| d.to_string())
}

fn parse_day(s: &str) -> Option<time::Date> {
    crate::domain::calendar::parse_date(s)
}

impl From<&Recommendation> for RecommendationRow {
    fn from(r: &Recommendation) -> Self {
        RecommendationRow {
            id: r.id,
            version: r.version,
            journey: r.journey.clone(),
            stage: r.stage.clone(),
            text_ru: r.text.ru.clone(),
            text_en: r.text.en.clone(),
            status: r.status.code(),
            owner_unit: r.owner_unit.clone(),
            planned_on: day(r.planned_on),
            implemented_on: day(r.implemented_on),
            measure: r.measure.code(),
            tag: r.tag.clone(),
            question: r.question.clone(),
            aim: r.aim.code(),
            window_days: r.window_days,
            note: r.note.clone(),
            author: r.author.clone(),
            changed_at: r.changed_at,
        }
    }
}

impl RecommendationRow {
    /// The row as the code reads it; `None` for codes this build does not know.
    pub fn recommendation(self) -> Option<Recommendation> {
        Some(Recommendation {
            id: self.id,
            version: self.version,
            journey: self.journey,
            stage: self.stage,
            text: Text { ru: self.text_ru, en: self.text_en },
            status: Status::from_code(self.status)?,
            owner_unit: self.owner_unit,
            planned_on: parse_day(&self.planned_on),
            implemented_on: parse_day(&self.implemented_on),
            measure: Measure::from_code(self.measure)?,
            tag: self.tag,
            question: self.question,
            aim: Aim::from_code(self.aim),
            window_days: self.window_days,
            note: self.note,
            author: self.author,
            changed_at: self.changed_at,
        })
    }
}

#[derive(Clone)]
pub struct RecommendationStore {
    storage: Storage,
}

impl RecommendationStore {
    pub fn new(storage: Storage) -> RecommendationStore {
        RecommendationStore { storage }
    }

    /// Whether this instance may write version `version` of `id`
    /// (`storage::claims`): two edits racing through two instances keep one.
    pub async fn claim_version(&self, id: Uuid, version: u32) -> Result<bool, StorageError> {
        crate::storage::claims::claim(&self.storage, &format!("recommendation:{id}"), version).await
    }

    /// The newest version of each recommendation, of one journey or all
    /// (`journey` empty), in the order they were first recorded.
    pub async fn current(&self, journey: &str) -> Result<Vec<Recommendation>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recommendations WHERE (? = '' OR journey = ?) \
             ORDER BY id, version DESC LIMIT 1 BY id"
        );
        let rows: Vec<RecommendationRow> =
            self.storage.client().query(&sql).bind(journey).bind(journey).fetch_all().await?;
        let firsts = self.first_recorded(journey).await?;
        let mut current: Vec<Recommendation> = rows.into_iter().filter_map(RecommendationRow::recommendation).collect();
        let firsts: std::collections::HashMap<Uuid, u32> = firsts.into_iter().collect();
        current.sort_by_key(|r| (firsts.get(&r.id).copied().unwrap_or(u32::MAX), r.id));
        Ok(current)
    }

    async fn first_recorded(&self, journey: &str) -> Result<Vec<(Uuid, u32)>, StorageError> {
        #[derive(Row, Deserialize)]
        struct First {
            #[serde(with = "clickhouse::serde::uuid")]
            id: Uuid,
            at: u32,
        }
        let sql = "SELECT id, toUInt32(min(changed_at)) AS at FROM recommendations \
                   WHERE (? = '' OR journey = ?) GROUP BY id";
        let rows: Vec<First> = self.storage.client().query(sql).bind(journey).bind(journey).fetch_all().await?;
        Ok(rows.into_iter().map(|f| (f.id, f.at)).collect())
    }

    /// Every version of one recommendation, newest first.
    pub async fn history(&self, id: Uuid) -> Result<Vec<Recommendation>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM recommendations FINAL WHERE id = toUUID(?) ORDER BY version DESC");
        let rows: Vec<RecommendationRow> = self.storage.client().query(&sql).bind(id.to_string()).fetch_all().await?;
        Ok(rows.into_iter().filter_map(RecommendationRow::recommendation).collect())
    }

    /// Which of `ids` have a row.
    pub async fn existing(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StorageError> {
        #[derive(Row, Deserialize)]
        struct Id {
            #[serde(with = "clickhouse::serde::uuid")]
            id: Uuid,
        }
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let sql = "SELECT DISTINCT id FROM recommendations WHERE id IN (SELECT toUUID(arrayJoin(?)))";
        let rows: Vec<Id> = self.storage.client().query(sql).bind(ids).fetch_all().await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    pub async fn insert(&self, r: &Recommendation) -> Result<(), StorageError> {
        self.storage.insert_one("recommendations", &RecommendationRow::from(r)).await
    }
}
