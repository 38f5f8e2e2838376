//! The report's tables, laid out once in one language and written as XLSX,
//! CSV or a printable page: the official layout (criteria, response rates,
//! standards) and the US A-11 layout (the count of each answer per question).

use super::figures::{Figures, Reach};
use crate::domain::questions::SCORES;
use crate::journeys::Catalog;
use crate::journeys::model::Journey;
use crate::web::Words;

/// A cell: text, or a number a spreadsheet can compute with.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl Cell {
    /// As CSV and the page write it: numbers with at most two decimals.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Number(n) if n.fract() == 0.0 => format!("{n:.0}"),
            Cell::Number(n) => format!("{n:.2}"),
            Cell::Empty => String::new(),
        }
    }
}

fn count(n: u64) -> Cell {
    Cell::Number(n as f64)
}

fn maybe(n: Option<f64>) -> Cell {
    n.map_or(Cell::Empty, Cell::Number)
}

/// One table: a sheet of the workbook, a section of the page, one CSV.
pub struct Table {
    /// Also the sheet's name: at most 31 characters.
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Which tables: the official ones, or the A-11 count of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Official,
    A11,
}

pub fn tables(figures: &Figures, journey: &Journey, catalog: &Catalog, layout: Layout, w: &Words) -> Vec<Table> {
    match layout {
        Layout::Official => {
            vec![criteria(figures, journey, w), reach(figures, journey, catalog, w), standards(figures, w)]
        }
        Layout::A11 => vec![a11(figures, journey, w)],
    }
}

fn stage_name(journey: &Journey, id: &str, w: &Words) -> String {
    journey.stages.iter().find(|s| s.id == id).map_or_else(|| id.to_string(), |s| w.text(&s.name).to_string())
}

fn criteria(figures: &Figures, journey: &Journey, w: &Words) -> Table {
    let mut header: Vec<String> = [
        w.pick("Этап", "Stage"),
        w.pick("Набор", "Set"),
        w.pick("Вопрос", "Question"),
        w.pick("Ответов", "Answers"),
        w.pick("Среднее (1–5)", "Mean (1–5)"),
        w.pick("95% ДИ, от", "95% CI, from"),
        w.pick("95% ДИ, до", "95% CI, to"),
    ]
    .map(str::to_string)
    .to_vec();
    let (lo, hi) = SCORES;
    header.extend((lo..=hi).map(|s| format!("{s} — {}", super::figures::answer_words(s, w.en))));
    let rows = figures
        .criteria
        .iter()
        .map(|c| {
            let mut row = vec![
                Cell::Text(stage_name(journey, &c.stage, w)),
                Cell::Text(set_name(&c.question_set, w)),
                Cell::Text(w.text(&c.text).to_string()),
                count(c.n),
                maybe(c.mean),
                maybe(c.ci95.map(|ci| ci.0)),
                maybe(c.ci95.map(|ci| ci.1)),
            ];
            row.extend(c.counts.iter().map(|n| count(*n)));
            row
        })
        .collect();
    Table { name: w.pick("Критерии", "Criteria").into(), header, rows }
}

fn set_name(set: &str, w: &Words) -> String {
    match set {
        "vk5" => w.pick("«Ваш контроль»", "\"Vash kontrol\"").into(),
        _ => w.pick("свой", "custom").into(),
    }
}

fn reach(figures: &Figures, journey: &Journey, catalog: &Catalog, w: &Words) -> Table {
    let header = [
        w.pick("Этап", "Stage"),
        w.pick("Точка контакта", "Touchpoint"),
        w.pick("Показано", "Shown"),
        w.pick("Открыто", "Opened"),
        w.pick("Отправлено писем", "Letters sent"),
        w.pick("Звонков", "Calls"),
        w.pick("Предложено", "Offered"),
        w.pick("Оценок", "Ratings"),
        w.pick("Анкет", "Sets"),
        w.pick("Ответило из опрошенных", "Answered of those asked"),
        w.pick("Отклик, %", "Response rate, %"),
        w.pick("Ответов без учтённого предложения", "Answers without an offer counted"),
    ]
    .map(str::to_string)
    .to_vec();
    let rows = figures
        .reach
        .iter()
        .map(|r: &Reach| {
            vec![
                Cell::Text(stage_name(journey, &r.stage, w)),
                Cell::Text(
                    catalog.touchpoint(&r.touchpoint).map_or_else(|| r.touchpoint.clone(), |t| w.text(&t.name).into()),
                ),
                count(r.shown),
                count(r.opened),
                count(r.sent),
                count(r.calls),
                count(r.offered),
                count(r.ratings),
                count(r.sets),
                count(r.answered_offered),
                maybe(r.rate.map(|r| 100.0 * r)),
                count(r.unoffered),
            ]
        })
        .collect();
    Table { name: w.pick("Отклик", "Response rates").into(), header, rows }
}

fn standards(figures: &Figures, w: &Words) -> Table {
    let s = &figures.standards;
    let share = |met: u64, n: u64| maybe((n > 0).then(|| 100.0 * met as f64 / n as f64));
    let header = [
        w.pick("Стандарт", "Standard"),
        w.pick("Всего", "Total"),
        w.pick("Соблюдён", "Met"),
        w.pick("Доля, %", "Share, %"),
    ]
    .map(str::to_string)
    .to_vec();
    let rows = vec![
        vec![
            Cell::Text(w.pick("Звонок: не более двух переадресаций", "Call: at most two transfers").into()),
            count(s.calls),
            count(s.calls_within_transfers),
            share(s.calls_within_transfers, s.calls),
        ],
        vec![
            Cell::Text(w.pick("Письменное обращение: подтверждено получение", "Letter: receipt acknowledged").into()),
            count(s.letters),
            count(s.letters_acknowledged),
            share(s.letters_acknowledged, s.letters),
        ],
    ];
    Table { name: w.pick("Стандарты", "Standards").into(), header, rows }
}

/// The A-11 layout: per question, how many gave each answer, and the total.
fn a11(figures: &Figures, journey: &Journey, w: &Words) -> Table {
    let mut header: Vec<String> = vec![w.pick("Этап", "Stage").into(), w.pick("Вопрос", "Question").into()];
    let (lo, hi) = SCORES;
    header.extend((lo..=hi).map(|s| format!("{s} — {}", super::figures::answer_words(s, w.en))));
    header.push(w.pick("Всего", "Total").into());
    let rows = figures
        .criteria
        .iter()
        .map(|c| {
            let mut row = vec![Cell::Text(stage_name(journey, &c.stage, w)), Cell::Text(w.text(&c.text).into())];
            row.extend(c.counts.iter().map(|n| count(*n)));
            row.push(count(c.n));
            row
        })
        .collect();
    Table { name: w.pick("Ответы (A-11)", "Answers (A-11)").into(), header, rows }
}
