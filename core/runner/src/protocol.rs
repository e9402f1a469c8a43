//! The event protocol: how a trial talks to expman.
//!
//! A trial appends JSON lines to the file named by `EXPMAN_EVENTS` (the
//! `events.jsonl` of its run directory). Appending to a file costs a trial
//! one `write(2)` per call, survives a crash of either side (the runner
//! reads from the offset it last committed), and works from any language.
//! One object per line, with a `type`:
//!
//! | type | fields |
//! | --- | --- |
//! | `metric` | `key`, `value`, optional `step`, `epoch`, `ts` |
//! | `metrics` | `values` (an object of key → number), optional `step`, `epoch`, `ts` |
//! | `param` / `params` | `key`, `value` / `values` (any JSON) |
//! | `tag` / `tags` | `key`, `value` / `values` (written as text) |
//! | `artifact` | `path` (relative to the run directory, or absolute), optional `kind`, `epoch` |
//! | `epoch_start` / `epoch_end` | `epoch`, optional `ts`; `epoch_end` may carry `values` |
//! | `batch_end` | `epoch`, `batch`, optional `values` |
//! | `note` | `text` |
//!
//! `ts` is seconds since the Unix epoch (a float); without it the time of
//! reading is used. Without `step`, a metric gets the next step of its key
//! (0, 1, 2, ...). Without `epoch`, the epoch of the last `epoch_start`.
//! Values may be `"NaN"`, `"Infinity"` or `"-Infinity"` (JSON has no such
//! numbers). A line that is not one of these is counted as malformed,
//! reported once per run, and skipped: never fatal.

use serde::Deserialize;
use serde_json::value::RawValue;

use expman_store::ParamValue;

/// One parsed line.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Metrics { values: Vec<(String, f64)>, step: Option<i64>, epoch: Option<i64>, ts: Option<i64> },
    Params(Vec<(String, ParamValue)>),
    Tags(Vec<(String, String)>),
    Artifact { path: String, kind: String, epoch: Option<i64> },
    EpochStart { epoch: i64, ts: Option<i64> },
    EpochEnd { epoch: i64, ts: Option<i64>, values: Vec<(String, f64)> },
    BatchEnd { epoch: Option<i64>, batch: i64, values: Vec<(String, f64)> },
    Note(String),
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    key: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    values: Option<&'a RawValue>,
    step: Option<i64>,
    epoch: Option<i64>,
    batch: Option<i64>,
    ts: Option<f64>,
    path: Option<String>,
    #[serde(rename = "kind")]
    artifact_kind: Option<String>,
    text: Option<String>,
}

/// Why a line was not understood (recorded with the run's first malformed
/// line, so the reason reads as a sentence).
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    #[error("not a JSON event object: {0}")]
    NotJson(#[source] serde_json::Error),
    /// An event without a field it cannot do without.
    #[error("{event} without `{field}`")]
    Missing { event: &'static str, field: &'static str },
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    #[error("metric value {0} is not a number")]
    NotANumber(String),
    #[error("`values` is not an object: {0}")]
    NotAnObject(#[source] serde_json::Error),
    #[error("`value` is not JSON: {0}")]
    BadValue(#[source] serde_json::Error),
}

/// `Malformed::Missing` for `event` without `field`.
fn missing(event: &'static str, field: &'static str) -> Malformed {
    Malformed::Missing { event, field }
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<Event, Malformed> {
    let raw: Raw<'_> = serde_json::from_slice(line).map_err(Malformed::NotJson)?;
    let ts = raw.ts.map(|t| (t * 1000.0).round() as i64);
    match raw.kind {
        "metric" => {
            let key = raw.key.ok_or_else(|| missing("metric", "key"))?.into_owned();
            let value = number(raw.value.ok_or_else(|| missing("metric", "value"))?)?;
            Ok(Event::Metrics { values: vec![(key, value)], step: raw.step, epoch: raw.epoch, ts })
        }
        "metrics" => Ok(Event::Metrics {
            values: number_map(raw.values.ok_or_else(|| missing("metrics", "values"))?)?,
            step: raw.step,
            epoch: raw.epoch,
            ts,
        }),
        "param" => {
            let key = raw.key.ok_or_else(|| missing("param", "key"))?.into_owned();
            let value = any(raw.value.ok_or_else(|| missing("param", "value"))?)?;
            Ok(Event::Params(vec![(key, ParamValue::from_json(&value))]))
        }
        "params" => {
            let values = object(raw.values.ok_or_else(|| missing("params", "values"))?)?;
            Ok(Event::Params(values.iter().map(|(k, v)| (k.clone(), ParamValue::from_json(v))).collect()))
        }
        "tag" => {
            let key = raw.key.ok_or_else(|| missing("tag", "key"))?.into_owned();
            let value = any(raw.value.ok_or_else(|| missing("tag", "value"))?)?;
            Ok(Event::Tags(vec![(key, text_of(&value))]))
        }
        "tags" => {
            let values = object(raw.values.ok_or_else(|| missing("tags", "values"))?)?;
            Ok(Event::Tags(values.iter().map(|(k, v)| (k.clone(), text_of(v))).collect()))
        }
        "artifact" => Ok(Event::Artifact {
            path: raw.path.ok_or_else(|| missing("artifact", "path"))?,
            kind: raw.artifact_kind.unwrap_or_else(|| "file".into()),
            epoch: raw.epoch,
        }),
        "epoch_start" => Ok(Event::EpochStart { epoch: raw.epoch.ok_or_else(|| missing("epoch_start", "epoch"))?, ts }),
        "epoch_end" => Ok(Event::EpochEnd {
            epoch: raw.epoch.ok_or_else(|| missing("epoch_end", "epoch"))?,
            ts,
            values: match raw.values {
                Some(v) => number_map(v)?,
                None => Vec::new(),
            },
        }),
        "batch_end" => Ok(Event::BatchEnd {
            epoch: raw.epoch,
            batch: raw.batch.ok_or_else(|| missing("batch_end", "batch"))?,
            values: match raw.values {
                Some(v) => number_map(v)?,
                None => Vec::new(),
            },
        }),
        "note" => Ok(Event::Note(raw.text.ok_or_else(|| missing("note", "text"))?)),
        other => Err(Malformed::UnknownType(other.to_string())),
    }
}

fn number(raw: &RawValue) -> Result<f64, Malformed> {
    let text = raw.get();
    if let Ok(v) = text.parse::<f64>() {
        return Ok(v);
    }
    match text {
        "\"NaN\"" | "\"nan\"" => Ok(f64::NAN),
        "\"Infinity\"" | "\"inf\"" => Ok(f64::INFINITY),
        "\"-Infinity\"" | "\"-inf\"" => Ok(f64::NEG_INFINITY),
        "true" => Ok(1.0),
        "false" => Ok(0.0),
        other => Err(Malformed::NotANumber(other.to_string())),
    }
}

fn number_map(raw: &RawValue) -> Result<Vec<(String, f64)>, Malformed> {
    let map: indexmap::IndexMap<String, &RawValue> = serde_json::from_str(raw.get()).map_err(Malformed::NotAnObject)?;
    map.into_iter().map(|(k, v)| Ok((k, number(v)?))).collect()
}

fn any(raw: &RawValue) -> Result<serde_json::Value, Malformed> {
    serde_json::from_str(raw.get()).map_err(Malformed::BadValue)
}

fn object(raw: &RawValue) -> Result<serde_json::Map<String, serde_json::Value>, Malformed> {
    serde_json::from_str(raw.get()).map_err(Malformed::NotAnObject)
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes events in the protocol (for Rust pipelines and tests).
pub mod write {
    use serde_json::json;

    fn number(v: f64) -> serde_json::Value {
        if v.is_finite() {
            json!(v)
        } else if v.is_nan() {
            json!("NaN")
        } else if v > 0.0 {
            json!("Infinity")
        } else {
            json!("-Infinity")
        }
    }

    pub fn metric(key: &str, value: f64, step: Option<i64>, epoch: Option<i64>, ts_ms: i64) -> String {
        let mut v = json!({"type": "metric", "key": key, "value": number(value), "ts": ts_ms as f64 / 1000.0});
        if let Some(s) = step {
            v["step"] = json!(s);
        }
        if let Some(e) = epoch {
            v["epoch"] = json!(e);
        }
        v.to_string()
    }

    pub fn metrics(values: &[(&str, f64)], step: Option<i64>, epoch: Option<i64>, ts_ms: i64) -> String {
        let map: serde_json::Map<String, serde_json::Value> =
            values.iter().map(|(k, v)| (k.to_string(), number(*v))).collect();
        let mut v = json!({"type": "metrics", "values": map, "ts": ts_ms as f64 / 1000.0});
        if let Some(s) = step {
            v["step"] = json!(s);
        }
        if let Some(e) = epoch {
            v["epoch"] = json!(e);
        }
        v.to_string()
    }

    pub fn params(values: &serde_json::Map<String, serde_json::Value>) -> String {
        json!({"type": "params", "values": values}).to_string()
    }

    pub fn tag(key: &str, value: &str) -> String {
        json!({"type": "tag", "key": key, "value": value}).to_string()
    }

    pub fn artifact(path: &str, kind: &str, epoch: Option<i64>) -> String {
        let mut v = json!({"type": "artifact", "path": path, "kind": kind});
        if let Some(e) = epoch {
            v["epoch"] = json!(e);
        }
        v.to_string()
    }

    pub fn epoch_start(epoch: i64, ts_ms: i64) -> String {
        json!({"type": "epoch_start", "epoch": epoch, "ts": ts_ms as f64 / 1000.0}).to_string()
    }

    pub fn epoch_end(epoch: i64, ts_ms: i64) -> String {
        json!({"type": "epoch_end", "epoch": epoch, "ts": ts_ms as f64 / 1000.0}).to_string()
    }

    pub fn batch_end(epoch: Option<i64>, batch: i64) -> String {
        json!({"type": "batch_end", "epoch": epoch, "batch": batch}).to_string()
    }

    pub fn note(text: &str) -> String {
        json!({"type": "note", "text": text}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_event_type() {
        let cases = [
            (
                r#"{"type":"metric","key":"loss","value":0.5,"step":3,"epoch":1,"ts":1.5}"#,
                Event::Metrics { values: vec![("loss".into(), 0.5)], step: Some(3), epoch: Some(1), ts: Some(1500) },
            ),
            (
                r#"{"type":"metrics","values":{"a":1,"b":"NaN"}}"#,
                Event::Metrics {
                    values: vec![("a".into(), 1.0), ("b".into(), f64::NAN)],
                    step: None,
                    epoch: None,
                    ts: None,
                },
            ),
            (r#"{"type":"param","key":"lr","value":0.1}"#, Event::Params(vec![("lr".into(), ParamValue::Float(0.1))])),
            (
                r#"{"type":"tags","values":{"a":"x","n":3}}"#,
                Event::Tags(vec![("a".into(), "x".into()), ("n".into(), "3".into())]),
            ),
            (
                r#"{"type":"artifact","path":"m.pt","kind":"checkpoint","epoch":2}"#,
                Event::Artifact { path: "m.pt".into(), kind: "checkpoint".into(), epoch: Some(2) },
            ),
            (r#"{"type":"epoch_start","epoch":4}"#, Event::EpochStart { epoch: 4, ts: None }),
            (r#"{"type":"note","text":"hi"}"#, Event::Note("hi".into())),
        ];
        for (line, expected) in cases {
            let got = parse_line(line.as_bytes()).unwrap();
            // NaN != NaN: compare through Debug.
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{line}");
        }
    }

    #[test]
    fn malformed_lines_say_why() {
        let why = |line: &[u8]| parse_line(line).unwrap_err().to_string();
        assert!(why(b"garbage").contains("not a JSON"));
        assert_eq!(why(br#"{"type":"metric","value":1}"#), "metric without `key`");
        assert_eq!(why(br#"{"type":"warp"}"#), "unknown event type `warp`");
        assert!(why(br#"{"type":"metric","key":"k","value":"high"}"#).contains("not a number"));
        assert!(why(br#"{"type":"metrics","values":[1]}"#).contains("`values` is not an object"));
    }

    #[test]
    fn writer_output_parses_back() {
        let line = write::metric("x", f64::INFINITY, Some(2), None, 1000);
        assert_eq!(
            parse_line(line.as_bytes()).unwrap(),
            Event::Metrics { values: vec![("x".into(), f64::INFINITY)], step: Some(2), epoch: None, ts: Some(1000) }
        );
    }
}
