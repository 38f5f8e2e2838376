//! The report as an A4 PDF: the same words as the page, laid out in lines
//! wrapped to the page, the charts drawn from their SVG. The font is the
//! compiled-in DejaVu Sans (Cyrillic included), subset into the file, so the
//! PDF reads the same on any machine.

use std::sync::Arc;

use ab_glyph::{Font as _, FontRef, ScaleFont};
use krilla::Document;
use krilla::geom::{Point, Size, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use krilla_svg::{SurfaceExt, SvgSettings};

use super::Report;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// A4 in points, and the margin.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;

enum Item {
    Text { x: f32, y: f32, size: f32, text: String },
    Chart { y: f32, height: f32, tree: Box<usvg::Tree> },
}

/// Items placed page by page, top to bottom.
struct Layout {
    measure: FontRef<'static>,
    pages: Vec<Vec<Item>>,
    y: f32,
}

impl Layout {
    fn new() -> anyhow::Result<Layout> {
        let measure = FontRef::try_from_slice(FONT)?;
        Ok(Layout { measure, pages: vec![Vec::new()], y: MARGIN })
    }

    fn room(&mut self, height: f32) {
        if self.y + height > HEIGHT - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    /// The width of `text` in points at `size` points: one pixel a point.
    fn width_of(&self, text: &str, size: f32) -> f32 {
        let scale = self.measure.pt_to_px_scale(size).unwrap_or(size.into());
        let scaled = self.measure.as_scaled(scale);
        text.chars().map(|c| scaled.h_advance(self.measure.glyph_id(c))).sum()
    }

    /// `text` wrapped to the width left after `indent`, one line at a time.
    fn paragraph(&mut self, text: &str, size: f32, indent: f32, after: f32) {
        let width = WIDTH - 2.0 * MARGIN - indent;
        let mut line = String::new();
        let mut lines = Vec::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if !line.is_empty() && self.width_of(&candidate, size) > width {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        lines.push(line);
        let step = size * 1.35;
        for text in lines {
            self.room(step);
            let y = self.y + size;
            self.pages.last_mut().expect("a page").push(Item::Text { x: MARGIN + indent, y, size, text });
            self.y += step;
        }
        self.y += after;
    }

    fn chart(&mut self, svg: &str, options: &usvg::Options) -> anyhow::Result<()> {
        let tree = usvg::Tree::from_str(svg, options)?;
        let height = (WIDTH - 2.0 * MARGIN) * tree.size().height() / tree.size().width();
        self.room(height);
        let y = self.y;
        self.pages.last_mut().expect("a page").push(Item::Chart { y, height, tree: Box::new(tree) });
        self.y += height + 12.0;
        Ok(())
    }
}

fn options() -> usvg::Options<'static> {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    usvg::Options { font_family: "DejaVu Sans".into(), fontdb: Arc::new(fonts), ..Default::default() }
}

fn lay_out(report: &Report) -> anyhow::Result<Layout> {
    let mut l = Layout::new()?;
    l.paragraph(&report.title, 17.0, 0.0, 4.0);
    l.paragraph(&report.period, 10.0, 0.0, 12.0);
    l.paragraph(if report.en { "The journey map" } else { "Карта пути клиента" }, 13.0, 0.0, 6.0);
    for s in &report.stages {
        l.paragraph(&s.heading, 11.0, 0.0, 2.0);
        for fact in &s.facts {
            l.paragraph(fact, 9.5, 12.0, 0.0);
        }
        l.y += 6.0;
    }
    l.paragraph(
        if report.en { "Recommendations and their effect" } else { "Рекомендации и их эффект" },
        13.0,
        0.0,
        6.0,
    );
    for r in &report.recommendations {
        l.paragraph(&format!("{}. {}", r.label, r.text), 10.5, 0.0, 1.0);
        for line in [&r.stage, &r.status, &r.effect].into_iter().filter(|t| !t.is_empty()) {
            l.paragraph(line, 9.5, 12.0, 0.0);
        }
        l.y += 6.0;
    }
    let options = options();
    for (_, svg) in &report.charts {
        l.chart(svg, &options)?;
    }
    l.paragraph(if report.en { "Method" } else { "Метод" }, 13.0, 0.0, 6.0);
    l.paragraph(report.method, 9.0, 0.0, 0.0);
    Ok(l)
}

/// The report's PDF.
pub fn render(report: &Report) -> anyhow::Result<Vec<u8>> {
    let layout = lay_out(report)?;
    let font = Font::new(FONT.into(), 0).ok_or_else(|| anyhow::anyhow!("the compiled-in font does not load"))?;
    let mut document = Document::new();
    document.set_metadata(Metadata::new().title(report.title.clone()).language(report.lang.to_string()));
    let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| anyhow::anyhow!("no A4 page"))?;
    for items in layout.pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for item in items {
            match item {
                Item::Text { x, y, size, text } => {
                    surface.draw_text(Point::from_xy(x, y), font.clone(), size, &text, false, TextDirection::Auto)
                }
                Item::Chart { y, height, tree } => {
                    let size =
                        Size::from_wh(WIDTH - 2.0 * MARGIN, height).ok_or_else(|| anyhow::anyhow!("an empty chart"))?;
                    surface.push_transform(&Transform::from_translate(MARGIN, y));
                    surface.draw_svg(&tree, size, SvgSettings::default());
                    surface.pop();
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| anyhow::anyhow!("the PDF could not be written: {e:?}"))
}
