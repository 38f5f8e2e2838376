//! The queue pages' words in Russian (default) and English.

use time::UtcOffset;

use crate::cases::queue::Context;
use crate::cases::status::{Action, Resolution, Status};
use crate::journeys::model::Text;

#[derive(Clone, Copy)]
pub struct Words {
    pub en: bool,
    /// The ministry's time zone, for the times shown.
    pub offset: UtcOffset,
}

impl Words {
    pub fn new(lang: Option<&str>, offset: UtcOffset) -> Words {
        Words { en: lang.is_some_and(|l| l.starts_with("en")), offset }
    }

    pub fn lang(&self) -> &'static str {
        if self.en { "en" } else { "ru" }
    }

    /// `ru` or `en` of a catalog text.
    pub fn text<'a>(&self, text: &'a Text) -> &'a str {
        if self.en { &text.en } else { &text.ru }
    }

    /// One of two phrasings.
    pub fn pick(&self, ru: &'static str, en: &'static str) -> &'static str {
        if self.en { en } else { ru }
    }

    pub fn status(&self, status: Status) -> &'static str {
        match status {
            Status::New => self.pick("новый", "new"),
            Status::Acknowledged => self.pick("получение подтверждено", "acknowledged"),
            Status::InProgress => self.pick("в работе", "in progress"),
            Status::Answered => self.pick("ответ дан", "answered"),
            Status::Closed => self.pick("закрыт", "closed"),
        }
    }

    pub fn resolution(&self, resolution: Resolution) -> &'static str {
        match resolution {
            Resolution::Resolved => self.pick("решено для клиента", "resolved for the client"),
            Resolution::Explained => self.pick("дано разъяснение", "explained"),
            Resolution::PassedToLab => self.pick("причина передана в лабораторию", "root cause passed to the lab"),
            Resolution::NothingPossible => self.pick("ничего сделать нельзя", "nothing possible"),
            Resolution::Spam => self.pick("спам", "spam"),
        }
    }

    pub fn action(&self, action: &Action) -> String {
        match action {
            Action::Acknowledge => self.pick("получение подтверждено", "acknowledged").into(),
            Action::Start => self.pick("взят в работу", "started").into(),
            Action::Answer { .. } => self.pick("дан ответ", "answered").into(),
            Action::Close { resolution } => {
                format!("{}: {}", self.pick("закрыт", "closed"), self.resolution(*resolution))
            }
        }
    }

    pub fn reason(&self, reason: &str) -> String {
        match reason {
            "low_score" => self.pick("низкая оценка", "low score").into(),
            "transfers" => self.pick("более двух переводов звонка", "more than two call transfers").into(),
            "late_acknowledgement" => {
                self.pick("письмо не подтверждено в срок", "letter not acknowledged in time").into()
            }
            other => match other.strip_prefix("tag:") {
                Some(tag) => format!("{}: {tag}", self.pick("отмечено", "tagged")),
                None => other.into(),
            },
        }
    }

    /// `csat 1 of 5`, or a call's figures.
    pub fn rating(&self, context: &Context) -> String {
        let mut parts = Vec::new();
        if let (Some(scale), Some(score)) = (context.scale, context.score) {
            let (_, max) = crate::domain::Scale::from_name(scale).map_or((0, 0), |s| s.range());
            parts.push(format!("{scale} {score} {} {max}", self.pick("из", "of")));
        }
        if let Some(transfers) = context.transfers {
            parts.push(format!("{}: {transfers}", self.pick("переводов", "transfers")));
        }
        if let Some(wait) = context.wait_seconds {
            parts.push(format!("{}: {wait} {}", self.pick("ожидание", "wait"), self.pick("с", "s")));
        }
        parts.join(", ")
    }

    /// Local time, `2026-12-03 14:05`.
    pub fn time(&self, unix: u32) -> String {
        let at = time::OffsetDateTime::from_unix_timestamp(i64::from(unix))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(self.offset);
        format!("{}-{:02}-{:02} {:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
    }

    /// A deadline as the last day it includes, `2026-12-03`.
    pub fn deadline(&self, unix: u32) -> String {
        self.time(unix.saturating_sub(1))[..10].to_string()
    }

    pub fn refused_closed(&self) -> &'static str {
        self.pick("Случай уже закрыт: изменить его нельзя.", "The case is closed: it cannot be changed.")
    }
}
