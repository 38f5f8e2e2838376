//! What a target is told: a case event as a webhook's JSON and as a letter
//! to the case's unit, and the daily letter of overdue cases.

use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::storage::rows::CaseRow;

/// Something that happened to a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    /// Unique per event, the same on every attempt (the `webhook-id`): the
    /// case id for its opening, the change id for a change.
    pub id: String,
    /// `opened`, or the change's action: `acknowledge`, `start`, `answer`, `close`.
    pub action: String,
    /// Unix seconds.
    pub at: u32,
    pub case: CaseRow,
    /// The account that made the change; empty for an opening.
    pub by: String,
    /// The answer's text.
    pub text: String,
    pub resolution: String,
}

impl CaseEvent {
    /// The Standard Webhooks `type`: `case.opened`, `case.acknowledged`,
    /// `case.started`, `case.answered`, `case.closed`.
    pub fn kind(&self) -> &'static str {
        match self.action.as_str() {
            "opened" => "case.opened",
            "acknowledge" => "case.acknowledged",
            "start" => "case.started",
            "answer" => "case.answered",
            "close" => "case.closed",
            _ => "case.changed",
        }
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    case: Facts<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    by: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    answer: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    resolution: &'a str,
}

#[derive(Serialize)]
struct Facts<'a> {
    id: Uuid,
    opened_at: String,
    journey: &'a str,
    stage: &'a str,
    touchpoint: &'a str,
    unit: &'a str,
    reason: &'a str,
    acknowledge_by: String,
    answer_by: String,
}

fn rfc3339(unix: u32) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(unix));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The webhook body: `{"type", "timestamp", "data"}` as Standard Webhooks
/// recommends, the case's facts in `data.case`.
pub fn payload(event: &CaseEvent) -> String {
    let case = &event.case;
    let body = Payload {
        kind: event.kind(),
        timestamp: rfc3339(event.at),
        data: Data {
            case: Facts {
                id: case.event_id,
                opened_at: rfc3339(case.opened_at),
                journey: &case.journey,
                stage: &case.stage,
                touchpoint: &case.touchpoint,
                unit: &case.unit,
                reason: &case.reason,
                acknowledge_by: rfc3339(case.acknowledge_by),
                answer_by: rfc3339(case.answer_by),
            },
            by: &event.by,
            answer: &event.text,
            resolution: &event.resolution,
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// A letter's subject and plain-text body.
#[derive(Debug, Clone, PartialEq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

/// A deadline in the ministry's local time: the last minute of its day,
/// `2026-12-03 23:59 (+03:00)`, rather than the midnight that ends it.
fn by(unix: u32, offset: UtcOffset) -> String {
    local(unix.saturating_sub(60), offset)
}

/// `2026-12-03 18:00 (+03:00)`: the ministry's local time.
fn local(unix: u32, offset: UtcOffset) -> String {
    let at =
        OffsetDateTime::from_unix_timestamp(i64::from(unix)).unwrap_or(OffsetDateTime::UNIX_EPOCH).to_offset(offset);
    let (h, m, _) = offset.as_hms();
    format!(
        "{}-{:02}-{:02} {:02}:{:02} ({}{:02}:{:02})",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        if offset.is_negative() { '-' } else { '+' },
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

fn reason(reason: &str) -> (String, String) {
    match reason {
        "low_score" => ("низкая оценка".into(), "a low score".into()),
        "transfers" => ("звонок переведён больше двух раз".into(), "a call transferred more than twice".into()),
        "late_acknowledgement" => {
            ("получение письма не подтверждено в срок".into(), "a letter not acknowledged in time".into())
        }
        other => match other.strip_prefix("tag:") {
            Some(tag) => (format!("отмечено «{tag}»"), format!("tagged “{tag}”")),
            None => (other.into(), other.into()),
        },
    }
}

/// The letter to a unit about a case just opened, Russian first.
pub fn opened(case: &CaseRow, link: &str, offset: UtcOffset) -> Letter {
    let (why_ru, why_en) = reason(&case.reason);
    let (ack, answer) = (by(case.acknowledge_by, offset), by(case.answer_by, offset));
    let place = format!("{} / {} / {}", case.journey, case.stage, case.touchpoint);
    Letter {
        subject: format!("Новый случай / New case: {place}"),
        body: format!(
            "Открыт случай: {why_ru}.\nПуть / этап / точка контакта: {place}\n\
             Подтвердить получение до {ack}, ответить клиенту до {answer}.\n{link}\n\n\
             A case was opened: {why_en}.\nJourney / stage / touchpoint: {place}\n\
             Acknowledge by {ack}, answer the client by {answer}.\n{link}\n"
        ),
    }
}

/// The letter to a client who asked to be told of the answer: only the
/// link, so the letter carries nothing of the case itself.
pub fn answered(link: &str) -> Letter {
    Letter {
        subject: "Ответ на ваше обращение готов / The answer to your feedback is ready".into(),
        body: format!(
            "Здравствуйте! Министерство ответило на ваше обращение: {link}\n\
             Там же можно оценить ответ. Ваш адрес будет удалён через 30 дней после закрытия обращения.\n\n\
             Hello! The ministry has answered your feedback: {link}\n\
             You can rate the answer there. Your address is deleted 30 days after the case closes.\n"
        ),
    }
}

/// An overdue case in a digest: the case and which deadline it missed.
pub struct Overdue<'a> {
    pub case: &'a CaseRow,
    /// Not acknowledged by `acknowledge_by` (else: not answered by `answer_by`).
    pub unacknowledged: bool,
    pub link: String,
}

/// The daily letter to a unit listing its overdue cases.
pub fn digest(unit: &str, day: &str, cases: &[Overdue<'_>], offset: UtcOffset) -> Letter {
    let mut ru = String::new();
    let mut en = String::new();
    for o in cases {
        let c = o.case;
        let place = format!("{} / {} / {}", c.journey, c.stage, c.touchpoint);
        let (due_ru, due_en, deadline) = if o.unacknowledged {
            ("не подтверждён", "not acknowledged", c.acknowledge_by)
        } else {
            ("нет ответа", "not answered", c.answer_by)
        };
        let deadline = by(deadline, offset);
        ru.push_str(&format!("- {place}: {due_ru}, срок {deadline}\n  {}\n", o.link));
        en.push_str(&format!("- {place}: {due_en}, due {deadline}\n  {}\n", o.link));
    }
    let n = cases.len();
    Letter {
        subject: format!("Просроченные случаи / Overdue cases: {unit}, {day} ({n})"),
        body: format!(
            "Просроченных случаев подразделения «{unit}»: {n}.\n{ru}\nOverdue cases of unit “{unit}”: {n}.\n{en}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> CaseRow {
        CaseRow {
            event_id: Uuid::nil(),
            opened_at: 1_796_000_000,
            journey: "j".into(),
            stage: "s".into(),
            touchpoint: "t".into(),
            unit: "u".into(),
            reason: "tag:queue".into(),
            acknowledge_by: 1_796_000_000 + 86_400,
            answer_by: 1_796_000_000 + 5 * 86_400,
        }
    }

    #[test]
    fn the_payload_names_the_event_and_carries_the_case() {
        let event = CaseEvent {
            id: "c1".into(),
            action: "answer".into(),
            at: 1_796_000_100,
            case: case(),
            by: "anna".into(),
            text: "<b>Готово</b>".into(),
            resolution: String::new(),
        };
        let body: serde_json::Value = serde_json::from_str(&payload(&event)).unwrap();
        assert_eq!(body["type"], "case.answered");
        assert_eq!(body["timestamp"], rfc3339(1_796_000_100));
        assert_eq!(body["data"]["case"]["reason"], "tag:queue");
        assert_eq!(body["data"]["answer"], "<b>Готово</b>");
        assert!(body["data"].get("resolution").is_none());
    }

    #[test]
    fn letters_give_local_deadlines_in_both_languages() {
        let offset = UtcOffset::from_hms(3, 0, 0).unwrap();
        let letter = opened(&case(), "https://tp.example/cases/x", offset);
        // 1_796_086_400 is 2026-12-01 00:53:20 UTC; a deadline shows its last minute.
        assert!(letter.body.contains("до 2026-12-01 03:52 (+03:00)"), "{}", letter.body);
        assert!(letter.body.contains("отмечено «queue»") && letter.body.contains("tagged “queue”"));
        assert_eq!(letter.body.matches("https://tp.example/cases/x").count(), 2);
        let c = case();
        let overdue = [Overdue { case: &c, unacknowledged: false, link: "L".into() }];
        let digest = digest("u", "2026-12-02", &overdue, UtcOffset::from_hms(-3, -30, 0).unwrap());
        assert!(digest.subject.ends_with("u, 2026-12-02 (1)"));
        assert!(digest.body.contains("нет ответа, срок ") && digest.body.contains("(-03:30)"), "{}", digest.body);
    }
}
