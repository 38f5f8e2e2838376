//! The one CSV writer of the service: the dashboards' exports, the official
//! report's tables and the public register all go through [`download`], so
//! that a spreadsheet opening any of them runs nothing: see [`neutralise`]
//! for the cells, and every cell is quoted.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// What a spreadsheet would evaluate becomes text: a cell whose first
/// character after any leading whitespace (spaces, no-break spaces, tabs,
/// line breaks; spreadsheets skip them) starts a formula, `= + - @` or their
/// full-width forms, gets a leading `'`. A plain number (`-12.5`) is left a
/// number. A formula after a `;` or a tab inside a cell is harmless because
/// every cell is quoted ([`download`]), so no spreadsheet splits it there.
pub fn neutralise(cell: &str) -> String {
    let first = cell.trim_start().chars().next();
    let formula = matches!(first, Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠'));
    if formula && !is_plain_number(cell) { format!("'{cell}") } else { cell.to_string() }
}

/// `-12`, `3.5`: digits with an optional leading minus and one decimal point.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Every CSV the service answers: each cell neutralised and quoted, UTF-8,
/// a download named `name`.
pub fn download(name: &str, records: Vec<Vec<String>>) -> Result<Response, ApiError> {
    // Quoted, a cell stays one cell for a spreadsheet that splits on `;` or tabs.
    let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
    for record in records {
        writer.write_record(record.iter().map(|c| neutralise(c))).map_err(|e| ApiError::Internal(e.into()))?;
    }
    let body = writer.into_inner().map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::{download, neutralise};

    #[test]
    fn whatever_a_spreadsheet_would_evaluate_becomes_text() {
        let formulas = [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            " =1",
            "\u{a0}=1",
            "\u{2003}+1",
            "\n=1",
            "\r\n-1",
            "\t=1",
            "\r=1",
            "＝1+1",
            "＋1",
            "－1",
            "＠A1",
            "-cmd|' /C calc'!A0",
        ];
        for cell in formulas {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        for text in ["Долго", "3", "-12.5", "0.75", "a=b", "1-2", "", "e-mail"] {
            assert_eq!(neutralise(text), text, "{text:?}");
        }
    }

    #[tokio::test]
    async fn every_cell_is_quoted_so_a_semicolon_hides_no_formula() {
        let records = vec![vec!["Долго;=HYPERLINK(\"http://evil.example\")".to_string(), "4.5".to_string()]];
        let response = download("x.csv", records).unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), "\"Долго;=HYPERLINK(\"\"http://evil.example\"\")\",\"4.5\"\n");
    }
}
