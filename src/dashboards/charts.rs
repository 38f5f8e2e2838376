//! The journey view's charts, drawn with plotters: SVG to inline in pages, PNG
//! to download. Text is set in DejaVu Sans, compiled in, so Cyrillic renders
//! the same everywhere and nothing is fetched.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::stats::{DELAY_BUCKETS_H, JourneyStats, StageStats};

const FONT: &str = "sans-serif";
static FONTS: Once = Once::new();

fn fonts() {
    FONTS.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the compiled-in DejaVu Sans is not a valid font");
        }
    });
}

/// The charts the view and the API serve, by the name in their URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Per-stage score with its 95% interval and n, and the emotional line.
    Stages,
    /// Time spent per stage: median and p90 against the target.
    Time,
    /// Stage × touchpoint: score and volume.
    Heatmap,
    /// Each stage's score over time.
    Timeline,
    /// The order's standards: phone transfers, letter acknowledgement and answer.
    Standards,
}

impl Chart {
    pub const ALL: [Chart; 5] = [Chart::Stages, Chart::Time, Chart::Heatmap, Chart::Timeline, Chart::Standards];

    pub fn parse(name: &str) -> Option<Chart> {
        Chart::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Chart::Stages => "stages",
            Chart::Time => "time",
            Chart::Heatmap => "heatmap",
            Chart::Timeline => "timeline",
            Chart::Standards => "standards",
        }
    }

    /// The numbers this chart draws.
    pub fn parts(self) -> super::stats::Parts {
        use super::stats::Parts;
        match self {
            Chart::Stages | Chart::Heatmap => Parts::SCORES,
            Chart::Time => Parts { times: true, ..Parts::SCORES },
            Chart::Timeline => Parts { timeline: true, ..Parts::SCORES },
            Chart::Standards => Parts { standards: true, ..Parts::SCORES },
        }
    }

    fn size(self) -> (u32, u32) {
        match self {
            Chart::Stages => (1000, 460),
            Chart::Heatmap => (1000, 360),
            _ => (1000, 340),
        }
    }
}

/// Labels in the page's language.
pub struct Words {
    pub en: bool,
}

impl Words {
    fn t<'a>(&self, ru: &'a str, en: &'a str) -> &'a str {
        if self.en { en } else { ru }
    }
}

type Fail = Box<dyn std::error::Error + Send + Sync>;

fn draw<DB: DrawingBackend>(
    chart: Chart,
    root: DrawingArea<DB, Shift>,
    stats: &JourneyStats,
    w: &Words,
) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match chart {
        Chart::Stages => stages(&root, stats, w)?,
        Chart::Time => time(&root, stats, w)?,
        Chart::Heatmap => heatmap(&root, stats, w)?,
        Chart::Timeline => timeline(&root, stats, w)?,
        Chart::Standards => standards(&root, stats, w)?,
    }
    root.present()?;
    Ok(())
}

pub fn svg(chart: Chart, stats: &JourneyStats, words: &Words) -> Result<String, Fail> {
    fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.size()).into_drawing_area();
        draw(chart, root, stats, words)?;
    }
    Ok(out)
}

pub fn png(chart: Chart, stats: &JourneyStats, words: &Words) -> Result<Vec<u8>, Fail> {
    fonts();
    let (width, height) = chart.size();
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(chart, root, stats, words)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(out)
}

fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        format!("{}…", name.chars().take(max - 1).collect::<String>().trim_end())
    }
}

fn stage_label(s: &StageStats, w: &Words) -> String {
    format!("{}. {}", s.number, short(if w.en { &s.name.en } else { &s.name.ru }, 22))
}

/// Names the stages along a segmented axis.
fn stage_axis<'a>(stats: &'a JourneyStats, w: &'a Words) -> impl Fn(&SegmentValue<usize>) -> String + 'a {
    move |i| match i {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            stats.stages.get(*i).map(|s| stage_label(s, w)).unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    }
}

fn score_color(score: f64) -> RGBColor {
    // Red at 0, amber at 50, green at 100.
    let t = (score / 100.0).clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (217.0, 48.0 + t * 2.0 * 150.0)
    } else {
        (217.0 - (t - 0.5) * 2.0 * 187.0, 198.0 - (t - 0.5) * 2.0 * 56.0)
    };
    RGBColor(r as u8, g as u8, if t < 0.5 { 37 } else { 62 })
}

const GREY: RGBColor = RGBColor(128, 134, 139);
const BLUE: RGBColor = RGBColor(11, 87, 208);

fn stages<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, stats: &JourneyStats, w: &Words) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let n = stats.stages.len();
    let (upper, lower) = root.split_vertically(300);
    let label = stage_axis(stats, w);
    let mut chart = ChartBuilder::on(&upper)
        .caption(w.t("Оценка этапов (0–100, 95% интервал)", "Stage score (0–100, 95% interval)"), (FONT, 18))
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(40)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..100.0)?;
    chart.configure_mesh().disable_x_mesh().x_labels(n).x_label_formatter(&label).label_style((FONT, 12)).draw()?;
    for (i, s) in stats.stages.iter().enumerate() {
        let x = SegmentValue::CenterOf(i);
        match (s.score.score, s.score.ci95) {
            (Some(score), Some((lo, hi))) => {
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    x.clone(),
                    lo,
                    score,
                    hi,
                    BLUE.filled(),
                    12,
                )))?;
                chart.draw_series(std::iter::once(Circle::new((x.clone(), score), 6, score_color(score).filled())))?;
                chart.draw_series(std::iter::once(Text::new(
                    format!("{score:.0} (n={})", s.score.n),
                    (x, (hi + 3.0).min(96.0)),
                    (FONT, 13),
                )))?;
            }
            _ => {
                let text = format!("{} (n={})", w.t("мало ответов", "too few answers"), s.score.n);
                chart.draw_series(std::iter::once(Text::new(text, (x, 50.0), (FONT, 13).into_font().color(&GREY))))?;
            }
        }
    }
    let mut emotion = ChartBuilder::on(&lower)
        .caption(
            w.t("Эмоции: доля позитивных − доля негативных", "Emotion: share positive − share negative"),
            (FONT, 15),
        )
        .margin(10)
        .y_label_area_size(40)
        .build_cartesian_2d((0..n).into_segmented(), -100.0..100.0)?;
    // Stage names stand under the chart above; plotters needs a non-zero label count.
    emotion
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|_| String::new())
        .y_labels(5)
        .label_style((FONT, 11))
        .draw()?;
    emotion.draw_series(LineSeries::new(
        [(SegmentValue::Exact(0), 0.0), (SegmentValue::Last, 0.0)],
        GREY.stroke_width(1),
    ))?;
    let points: Vec<(SegmentValue<usize>, f64)> = stats
        .stages
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.score.emotion.map(|e| (SegmentValue::CenterOf(i), e)))
        .collect();
    emotion.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))?;
    emotion
        .draw_series(points.into_iter().map(|(x, e)| Circle::new((x, e), 4, score_color(50.0 + e / 2.0).filled())))?;
    Ok(())
}

fn hours(ms: f64) -> f64 {
    (ms / 3_600_000.0).max(0.001)
}

fn time<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, stats: &JourneyStats, w: &Words) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let n = stats.stages.len();
    let max = stats
        .stages
        .iter()
        .flat_map(|s| [s.time.p90_ms, s.time.target_ms.map(|t| t as f64)])
        .flatten()
        .fold(1.0f64, |a, b| a.max(hours(b)))
        * 2.0;
    let label = stage_axis(stats, w);
    let mut chart = ChartBuilder::on(root)
        .caption(
            w.t("Время на этапе, часы: медиана ■, p90 ▪, цель —", "Time per stage, hours: median ■, p90 ▪, target —"),
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(50)
        .build_cartesian_2d((0..n).into_segmented(), (0.01f64..max).log_scale())?;
    chart.configure_mesh().disable_x_mesh().x_labels(n).x_label_formatter(&label).label_style((FONT, 12)).draw()?;
    for (i, s) in stats.stages.iter().enumerate() {
        let left = SegmentValue::Exact(i);
        if let (Some(median), Some(p90)) = (s.time.median_ms, s.time.p90_ms) {
            let over = s.time.target_ms.is_some_and(|t| median > t as f64);
            let color = if over { RGBColor(217, 48, 37) } else { BLUE };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(left.clone(), 0.01), (SegmentValue::CenterOf(i), hours(median))],
                color.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(SegmentValue::CenterOf(i), 0.01), (SegmentValue::Exact(i + 1), hours(p90))],
                color.mix(0.4).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("n={}", s.time.n),
                (left.clone(), hours(p90) * 1.3),
                (FONT, 12),
            )))?;
        } else {
            chart.draw_series(std::iter::once(Text::new(
                w.t("нет данных", "no data").to_string(),
                (left.clone(), 0.1),
                (FONT, 12).into_font().color(&GREY),
            )))?;
        }
        if let Some(target) = s.time.target_ms {
            chart.draw_series(LineSeries::new(
                [(left, hours(target as f64)), (SegmentValue::Exact(i + 1), hours(target as f64))],
                BLACK.stroke_width(3),
            ))?;
        }
    }
    Ok(())
}

fn heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, stats: &JourneyStats, w: &Words) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let mut touchpoints: Vec<&str> = Vec::new();
    for s in &stats.stages {
        for c in &s.touchpoints {
            if !touchpoints.contains(&c.touchpoint.as_str()) {
                touchpoints.push(&c.touchpoint);
            }
        }
    }
    let (n, m) = (stats.stages.len(), touchpoints.len().max(1));
    let label = stage_axis(stats, w);
    let tp_label = |i: &SegmentValue<usize>| match i {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            touchpoints.get(*i).map(|t| t.to_string()).unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(
            w.t("Этап × точка взаимодействия: оценка и число ответов", "Stage × touchpoint: score and answers"),
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(120)
        .build_cartesian_2d((0..n).into_segmented(), (0..m).into_segmented())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n)
        .y_labels(m)
        .x_label_formatter(&label)
        .y_label_formatter(&tp_label)
        .label_style((FONT, 12))
        .draw()?;
    for (i, s) in stats.stages.iter().enumerate() {
        for c in &s.touchpoints {
            let j = touchpoints.iter().position(|t| *t == c.touchpoint).unwrap_or(0);
            let color = c.score.score.map_or(RGBColor(232, 234, 237), score_color);
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                    (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                ],
                color.filled(),
            )))?;
            let text = match c.score.score {
                Some(score) => format!("{score:.0} · n={}", c.score.n),
                None => format!("n={}", c.score.n),
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                (FONT, 13),
            )))?;
        }
    }
    Ok(())
}

fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, stats: &JourneyStats, w: &Words) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let (from, to) = (stats.filters.from as f64, stats.filters.to.max(stats.filters.from + 1) as f64);
    let mut chart = ChartBuilder::on(root)
        .caption(
            if stats.step == "week" {
                w.t("Оценка этапов по неделям", "Stage score by week")
            } else {
                w.t("Оценка этапов по дням", "Stage score by day")
            },
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(40)
        .build_cartesian_2d(from..to, 0.0..100.0)?;
    let date = |t: &f64| {
        humantime::format_rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(*t as u64)).to_string()[..10]
            .to_string()
    };
    chart.configure_mesh().x_label_formatter(&date).x_labels(6).label_style((FONT, 11)).draw()?;
    for (k, s) in stats.stages.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let points: Vec<(f64, f64)> = s.timeline.iter().filter_map(|p| p.score.map(|v| (p.at as f64, v))).collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(stage_label(s, w))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    // The days recommendations were implemented, in their stage's colour.
    for mark in stats.marks.iter().filter(|m| (from..to).contains(&f64::from(m.at))) {
        let k = stats.stages.iter().position(|s| s.id == mark.stage).unwrap_or(0);
        let color = Palette99::pick(k).to_rgba();
        let x = f64::from(mark.at);
        chart.draw_series(std::iter::once(PathElement::new([(x, 0.0), (x, 100.0)], color.stroke_width(1))))?;
        chart.draw_series(std::iter::once(Text::new(
            mark.label.clone(),
            (x, 99.0),
            (FONT, 12).into_font().color(&color),
        )))?;
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 11))
        .border_style(GREY)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

fn standards<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, stats: &JourneyStats, w: &Words) -> Result<(), Fail>
where
    DB::ErrorType: 'static,
{
    let (left, right) = root.split_horizontally(300);
    let share = stats.calls.share_over.unwrap_or(0.0) * 100.0;
    let mut calls = ChartBuilder::on(&left)
        .caption(w.t("Звонки с > 2 переключениями, %", "Calls with > 2 transfers, %"), (FONT, 15))
        .margin(10)
        .y_label_area_size(36)
        .build_cartesian_2d(0.0..1.0, 0.0..100.0)?;
    calls.configure_mesh().disable_x_mesh().x_labels(0).label_style((FONT, 11)).draw()?;
    if stats.calls.n > 0 {
        let color = if share > 0.0 { RGBColor(217, 48, 37) } else { RGBColor(30, 142, 62) };
        calls.draw_series(std::iter::once(Rectangle::new([(0.25, 0.0), (0.75, share)], color.filled())))?;
        calls.draw_series(std::iter::once(Text::new(
            format!("{share:.1}% ({} / {})", stats.calls.over_two_transfers, stats.calls.n),
            (0.1, (share + 5.0).min(95.0)),
            (FONT, 13),
        )))?;
    } else {
        calls.draw_series(std::iter::once(Text::new(
            w.t("звонков нет", "no calls").to_string(),
            (0.1, 50.0),
            (FONT, 13).into_font().color(&GREY),
        )))?;
    }
    let buckets = ["<1h", "1–4h", "4–24h", "1–3d", "3–7d", ">7d"];
    debug_assert_eq!(buckets.len(), DELAY_BUCKETS_H.len() + 1);
    let l = &stats.letters;
    let top = l.ack_histogram.iter().chain(&l.answer_histogram).copied().max().unwrap_or(0).max(1) as f64 * 1.2;
    let mut letters = ChartBuilder::on(&right)
        .caption(
            w.t(
                "Письма: время до уведомления (■) и до ответа (▪)",
                "Letters: time to acknowledgement (■) and to answer (▪)",
            ),
            (FONT, 15),
        )
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(40)
        .build_cartesian_2d((0..buckets.len()).into_segmented(), 0.0..top)?;
    let bucket_label = |i: &SegmentValue<usize>| match i {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => buckets.get(*i).unwrap_or(&"").to_string(),
        SegmentValue::Last => String::new(),
    };
    letters
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(buckets.len())
        .x_label_formatter(&bucket_label)
        .label_style((FONT, 11))
        .draw()?;
    for (i, (&ack, &answer)) in l.ack_histogram.iter().zip(&l.answer_histogram).enumerate() {
        letters.draw_series(std::iter::once(Rectangle::new(
            [(SegmentValue::Exact(i), 0.0), (SegmentValue::CenterOf(i), ack as f64)],
            BLUE.filled(),
        )))?;
        letters.draw_series(std::iter::once(Rectangle::new(
            [(SegmentValue::CenterOf(i), 0.0), (SegmentValue::Exact(i + 1), answer as f64)],
            BLUE.mix(0.4).filled(),
        )))?;
    }
    Ok(())
}
