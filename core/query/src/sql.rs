//! SQL over the record's frames (polars' SQL engine), for questions the
//! filter language does not cover. Tables: `runs`, `metrics`, `params`,
//! `tags`, `trials`, `experiments`, `hardware`, `artifacts`; only those a
//! query names are loaded.

use polars::prelude::*;
use polars::sql::SQLContext;

use super::{QueryError, frames::Frames};

/// The table names SQL queries can use.
pub const TABLES: [&str; 8] = ["runs", "metrics", "params", "tags", "trials", "experiments", "hardware", "artifacts"];

/// Runs `query` and returns its result.
pub fn run(frames: &Frames<'_>, query: &str) -> Result<DataFrame, QueryError> {
    let mut ctx = SQLContext::new();
    let lower = query.to_ascii_lowercase();
    let mentions = |table: &str| word(&lower, table);
    // Columns of the (large) metrics table the query never names are not
    // read; `*` anywhere but `count(*)` reads them all.
    let star = lower.replace("count(*)", "").contains('*');
    let metric_columns: Vec<&str> =
        super::frames::METRIC_COLUMNS.iter().copied().filter(|c| star || word(&lower, c)).collect();
    let mut any = false;
    for table in TABLES {
        if !mentions(table) {
            continue;
        }
        any = true;
        let frame = match table {
            "runs" => frames.runs()?,
            "metrics" => frames.metrics_columns(&[], &[], &metric_columns)?,
            "params" => frames.params()?,
            "tags" => frames.tags()?,
            "trials" => frames.trials()?,
            "experiments" => frames.experiments()?,
            "hardware" => frames.hardware()?,
            _ => frames.artifacts()?,
        };
        ctx.register(table, frame.lazy());
    }
    if !any {
        return Err(QueryError::Invalid(format!("the query names none of the tables: {}", TABLES.join(", "))));
    }
    Ok(ctx.execute(query)?.collect()?)
}

/// Whether `name` appears in `text` as a whole word.
fn word(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let after = text[i + name.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        before && after
    })
}
