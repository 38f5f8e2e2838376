//! The report's tables as files: an XLSX workbook (one sheet a table, numbers
//! as numbers), and the records of one table for CSV.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::tables::{Cell, Table};

/// The workbook of `tables`, with `title` above each.
pub fn xlsx(title: &str, tables: &[Table]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let decimals = Format::new().set_num_format("0.00");
    for table in tables {
        let sheet = workbook.add_worksheet();
        // Excel caps sheet names at 31 characters.
        sheet.set_name(table.name.chars().take(31).collect::<String>())?;
        sheet.write_string_with_format(0, 0, title, &bold)?;
        for (col, name) in table.header.iter().enumerate() {
            sheet.write_string_with_format(2, col as u16, name, &bold)?;
        }
        for (i, row) in table.rows.iter().enumerate() {
            let r = 3 + i as u32;
            for (col, cell) in row.iter().enumerate() {
                let c = col as u16;
                match cell {
                    Cell::Text(t) => sheet.write_string(r, c, t).map(|_| ())?,
                    Cell::Number(n) if n.fract() == 0.0 => sheet.write_number(r, c, *n).map(|_| ())?,
                    Cell::Number(n) => sheet.write_number_with_format(r, c, *n, &decimals).map(|_| ())?,
                    Cell::Empty => {}
                }
            }
        }
        sheet.set_column_width(0, 40)?;
        sheet.set_column_width(2, 40)?;
    }
    workbook.save_to_buffer()
}

/// One table as the records of a CSV (`dashboards::export` writes them:
/// every cell quoted, formulas neutralised).
pub fn records(table: &Table) -> Vec<Vec<String>> {
    std::iter::once(table.header.clone())
        .chain(table.rows.iter().map(|row| row.iter().map(Cell::text).collect()))
        .collect()
}
