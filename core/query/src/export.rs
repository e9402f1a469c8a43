//! Writing frames out: CSV, Parquet, JSON.

use std::path::Path;

use polars::prelude::*;

use super::QueryError;

/// File formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "parquet" => Some(Format::Parquet),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Writes `frame` to `path` (atomically: a temporary file, then a rename).
pub fn write(frame: &mut DataFrame, format: Format, path: &Path) -> Result<(), QueryError> {
    let io = |source: std::io::Error| QueryError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let file = std::fs::File::create(&tmp).map_err(io)?;
        write_to(frame, format, file)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes `frame` to any writer.
pub fn write_to(frame: &mut DataFrame, format: Format, out: impl std::io::Write) -> Result<(), QueryError> {
    match format {
        Format::Csv => CsvWriter::new(out).finish(frame)?,
        Format::Parquet => {
            ParquetWriter::new(out).finish(frame)?;
        }
        Format::Json => JsonWriter::new(out).with_json_format(JsonFormat::Json).finish(frame)?,
    }
    Ok(())
}
