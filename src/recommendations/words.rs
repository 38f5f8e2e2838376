//! How a recommendation and its effect read on the pages, the journey map
//! and the report, in Russian and English.

use super::Tracked;
use super::effect::{Effect, Verdict};
use super::model::Status;
use crate::domain::{Aim, Measure};
use crate::web::Words;

pub fn status(s: Status, w: &Words) -> &'static str {
    match s {
        Status::Proposed => w.pick("предложена", "proposed"),
        Status::Accepted => w.pick("принята", "accepted"),
        Status::InProgress => w.pick("выполняется", "in progress"),
        Status::Implemented => w.pick("выполнена", "implemented"),
        Status::Verified => w.pick("эффект подтверждён", "verified"),
        Status::Rejected => w.pick("отклонена", "rejected"),
    }
}

pub fn measure(m: Measure, w: &Words) -> &'static str {
    match m {
        Measure::StageScore => w.pick("оценка этапа", "stage score"),
        Measure::TimeSpent => w.pick("затраты времени", "time spent"),
        Measure::NegativeShare => w.pick("доля негативных эмоций", "share of negative emotions"),
        Measure::PositiveShare => w.pick("доля позитивных эмоций", "share of positive emotions"),
        Measure::TagShare => w.pick("доля отзывов с меткой", "share of answers with a tag"),
        Measure::Criterion => w.pick("средний ответ на вопрос (1–5)", "mean answer to a question (1–5)"),
    }
}

pub fn aim(a: Aim, w: &Words) -> &'static str {
    match a {
        Aim::Up => w.pick("должна расти", "should rise"),
        Aim::Down => w.pick("должна снижаться", "should fall"),
    }
}

pub fn verdict(v: Verdict, w: &Words) -> &'static str {
    match v {
        Verdict::Improved => w.pick("улучшилось", "improved"),
        Verdict::NoDetectableChange => w.pick("изменение не обнаружено", "no detectable change"),
        Verdict::Worse => w.pick("ухудшилось", "worse"),
        Verdict::TooFewAnswers => w.pick("слишком мало ответов", "too few answers"),
        Verdict::Waiting => w.pick("окно «после» ещё не началось", "the after window has not begun"),
    }
}

fn value(m: Measure, v: f64, w: &Words) -> String {
    match m {
        Measure::TimeSpent => crate::web::duration_text(v, w.en),
        _ if m.is_share() => format!("{v:.1}%"),
        _ => format!("{v:.1}"),
    }
}

fn unit(m: Measure, w: &Words) -> &'static str {
    match m {
        Measure::TimeSpent => "%",
        _ if m.is_share() => w.pick(" п.п.", " pp"),
        _ => w.pick(" балла", " points"),
    }
}

/// `before → after (n), difference, 95% interval — verdict`, one line.
pub fn effect(t: &Tracked, w: &Words) -> String {
    let (Some(e), Some(win)) = (&t.effect, &t.windows) else { return String::new() };
    let m = t.recommendation.measure;
    let days = format!("{} {} {}", w.pick("окна по", "windows of"), win.days, w.pick("дн.", "days"));
    let Effect { before: Some(b), after: Some(a), difference: Some(d), ci95: Some((lo, hi)), .. } = e else {
        return format!("{} ({days}; n {}/{})", verdict(e.verdict, w), e.n_before, e.n_after);
    };
    let u = unit(m, w);
    let mut line = format!(
        "{} → {} (n {}/{}; {days}): {d:+.1}{u}, 95%: {lo:+.1}…{hi:+.1}{u} — {}",
        value(m, *b, w),
        value(m, *a, w),
        e.n_before,
        e.n_after,
        verdict(e.verdict, w)
    );
    if e.level < 0.95 + 1e-9 {
        return line;
    }
    if let Some((clo, chi)) = e.interval {
        line.push_str(&format!(
            " ({} {:.2}%: {clo:+.1}…{chi:+.1}{u})",
            w.pick(
                "с поправкой Бонферрони на число оцениваемых рекомендаций, уровень",
                "Bonferroni-corrected for the recommendations judged together, level"
            ),
            100.0 * e.level
        ));
    }
    line
}

/// The journey map's row of recommendations for `stage`: `Р1. text — status: effect`.
pub fn map_lines(tracked: &[Tracked], stage: &str, en: bool) -> Vec<String> {
    let w = Words { en, offset: time::UtcOffset::UTC };
    tracked
        .iter()
        .enumerate()
        .filter(|(_, t)| t.recommendation.stage == stage)
        .map(|(i, t)| {
            let effect = effect(t, &w);
            format!(
                "{}. {} — {}{}{effect}",
                super::label(i, en),
                w.text(&t.recommendation.text),
                status(t.recommendation.status, &w),
                if effect.is_empty() { "" } else { ": " },
            )
        })
        .collect()
}
