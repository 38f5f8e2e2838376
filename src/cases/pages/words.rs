//! The queue pages' words in Russian (default) and English.

use crate::cases::queue::Context;
use crate::cases::status::{Action, Resolution, Status};
pub use crate::web::Words;

/// What only the case pages say.
pub trait CaseWords {
    fn status(&self, status: Status) -> &'static str;
    fn resolution(&self, resolution: Resolution) -> &'static str;
    fn action(&self, action: &Action) -> String;
    fn reason(&self, reason: &str) -> String;
    fn rating(&self, context: &Context) -> String;
    fn refused_closed(&self) -> &'static str;
}

impl CaseWords for Words {
    fn status(&self, status: Status) -> &'static str {
        match status {
            Status::New => self.pick("новый", "new"),
            Status::Acknowledged => self.pick("получение подтверждено", "acknowledged"),
            Status::InProgress => self.pick("в работе", "in progress"),
            Status::Answered => self.pick("ответ дан", "answered"),
            Status::Closed => self.pick("закрыт", "closed"),
        }
    }

    fn resolution(&self, resolution: Resolution) -> &'static str {
        match resolution {
            Resolution::Resolved => self.pick("решено для клиента", "resolved for the client"),
            Resolution::Explained => self.pick("дано разъяснение", "explained"),
            Resolution::PassedToLab => self.pick("причина передана в лабораторию", "root cause passed to the lab"),
            Resolution::NothingPossible => self.pick("ничего сделать нельзя", "nothing possible"),
            Resolution::Spam => self.pick("спам", "spam"),
        }
    }

    fn action(&self, action: &Action) -> String {
        match action {
            Action::Acknowledge => self.pick("получение подтверждено", "acknowledged").into(),
            Action::Start => self.pick("взят в работу", "started").into(),
            Action::Answer { .. } => self.pick("дан ответ", "answered").into(),
            Action::Close { resolution } => {
                format!("{}: {}", self.pick("закрыт", "closed"), self.resolution(*resolution))
            }
        }
    }

    fn reason(&self, reason: &str) -> String {
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
    fn rating(&self, context: &Context) -> String {
        let mut parts = Vec::new();
        if let (Some(scale), Some(score)) = (context.scale, context.score) {
            let (_, max) = crate::domain::Scale::from_name(scale).map_or((0, 0), |s| s.range());
            // The scale by its range, not its id: `2 из 5`, `3 из 10`.
            parts.push(format!("{score} {} {max}", self.pick("из", "of")));
        }
        if let Some(transfers) = context.transfers {
            parts.push(format!("{}: {transfers}", self.pick("переводов", "transfers")));
        }
        if let Some(wait) = context.wait_seconds {
            parts.push(format!("{}: {wait} {}", self.pick("ожидание", "wait"), self.pick("с", "s")));
        }
        parts.join(", ")
    }

    fn refused_closed(&self) -> &'static str {
        self.pick("Случай уже закрыт: изменить его нельзя.", "The case is closed: it cannot be changed.")
    }
}
