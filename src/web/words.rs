//! Words of the staff pages in Russian (default) and English, and times in
//! the ministry's time zone.

use time::UtcOffset;

use crate::domain::Text;

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
}
/// A duration as a person reads it: minutes, hours or days, one decimal.
pub fn duration_text(ms: f64, en: bool) -> String {
    let d = std::time::Duration::from_millis(ms as u64);
    let (value, unit_ru, unit_en) = if d.as_secs() < 3600 {
        (d.as_secs_f64() / 60.0, "мин", "min")
    } else if d.as_secs() < 3 * 86_400 {
        (d.as_secs_f64() / 3600.0, "ч", "h")
    } else {
        (d.as_secs_f64() / 86_400.0, "дн", "days")
    };
    format!("{value:.1} {}", if en { unit_en } else { unit_ru })
}
