//! DataFrames to the terminal (a table fitted to its width), CSV, JSON or
//! Parquet (files only).

use std::io::Write;

use anyhow::{Context, bail};
use expman_query::export::{Format, write, write_to};
use expman_query::format_cell;
use polars::prelude::DataFrame;

use super::tables::TextTable;
use crate::args::{FrameFormat, OutputArgs};

/// Most rows printed as a table (the rest are counted).
const MAX_TABLE_ROWS: usize = 200;

/// Prints or writes a frame as the output flags say.
pub fn emit(frame: &mut DataFrame, output: &OutputArgs) -> anyhow::Result<()> {
    let format = match output.format {
        FrameFormat::Table if output.out.is_some() => {
            bail!("`--format table` prints to the terminal; use csv, json or parquet with `--out`")
        }
        FrameFormat::Table => {
            print!("{}", table(frame));
            return Ok(());
        }
        FrameFormat::Csv => Format::Csv,
        FrameFormat::Json => Format::Json,
        FrameFormat::Parquet => Format::Parquet,
    };
    match &output.out {
        Some(path) => {
            write(frame, format, path).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} row(s) to {}", frame.height(), path.display());
        }
        None if format == Format::Parquet => bail!("Parquet is binary: give `--out FILE`"),
        None => {
            let mut out = std::io::stdout().lock();
            write_to(frame, format, &mut out)?;
            if format == Format::Json {
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// A frame as a terminal table: cells formatted for people, the shape below.
pub fn table(frame: &DataFrame) -> String {
    let header: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut t = TextTable::new(header);
    let shown = frame.height().min(MAX_TABLE_ROWS);
    for i in 0..shown {
        let row = frame.columns().iter().map(|c| c.get(i).map(|v| format_cell(&v)).unwrap_or_default()).collect();
        t.rows.push(row);
    }
    let mut out = if frame.height() == 0 { String::new() } else { format!("{}\n", t.render()) };
    let more = if frame.height() > shown {
        format!(", first {shown} shown; use --limit, --format or --out for all")
    } else {
        String::new()
    };
    out.push_str(&format!("{} row(s) × {} column(s){more}\n", frame.height(), frame.width()));
    out
}
