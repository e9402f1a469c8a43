//! Python values turned into what the record keeps. A metric is a real
//! number (int, float, or anything with `__float__`: numpy and torch
//! scalars); params become JSON (containers kept as lists and objects,
//! anything else as its `str()`); tags become text. What cannot be taken
//! raises `TypeError` naming the key; what the record refuses (NaN, a
//! name too long) raises `ValueError` from the engine's check.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use expman_runner::direct::DirectError;

use crate::ExpmanError;

/// How deep nested containers in a param are followed before the rest is
/// kept as text.
const MAX_DEPTH: usize = 32;

/// An engine error as a Python exception: `ValueError` for values the
/// record refuses, `ExpmanError` for the rest.
pub fn to_py(e: DirectError) -> PyErr {
    if e.is_bad_value() { PyValueError::new_err(e.to_string()) } else { ExpmanError::new_err(e.to_string()) }
}

/// A metric's value.
pub fn number(key: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(f.value());
    }
    if value.is_instance_of::<PyString>() || value.is_none() {
        return Err(not_a_number(key, value));
    }
    value.extract::<f64>().map_err(|_| not_a_number(key, value))
}

fn not_a_number(key: &str, value: &Bound<'_, PyAny>) -> PyErr {
    let shown = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "the value".into());
    let shown =
        if shown.chars().count() > 60 { format!("{}...", shown.chars().take(57).collect::<String>()) } else { shown };
    let kind = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("metric `{key}`: {shown} ({kind}) is not a number"))
}

/// Seconds since the epoch (as `time.time()` gives) in milliseconds.
pub fn timestamp_ms(seconds: Option<f64>) -> PyResult<Option<i64>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() => Ok(Some((s * 1000.0).round() as i64)),
        Some(s) => {
            Err(PyValueError::new_err(format!("timestamp {s} is not a time (seconds since 1970, as time.time())")))
        }
    }
}

/// A dictionary's keys as names (`TypeError` for a key that is not a
/// string) with its values.
pub fn items<'py>(what: &str, dict: &Bound<'py, PyDict>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let mut out = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => s.to_cow()?.into_owned(),
            Err(_) => return Err(not_a_name(what, &k)),
        };
        out.push((key, v));
    }
    Ok(out)
}

/// The `TypeError` for a dictionary key that is not a string.
pub fn not_a_name(what: &str, key: &Bound<'_, PyAny>) -> PyErr {
    let kind = key.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    let shown = key.repr().map(|r| r.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("{what} names are strings; got {shown} ({kind})"))
}

/// A param value as JSON.
pub fn json(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    json_at(value, 0)
}

fn json_at(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<serde_json::Value> {
    use serde_json::Value as J;
    if value.is_none() {
        return Ok(J::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(J::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(match value.extract::<i64>() {
            Ok(i) => J::from(i),
            Err(_) => J::String(value.str()?.to_cow()?.into_owned()),
        });
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let v = f.value();
        return Ok(serde_json::Number::from_f64(v).map(J::Number).unwrap_or_else(|| J::String(v.to_string())));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(J::String(s.to_cow()?.into_owned()));
    }
    if depth < MAX_DEPTH {
        if let Ok(list) = value.cast::<PyList>() {
            return list.iter().map(|v| json_at(&v, depth + 1)).collect::<PyResult<Vec<_>>>().map(J::Array);
        }
        if let Ok(tuple) = value.cast::<PyTuple>() {
            return tuple.iter().map(|v| json_at(&v, depth + 1)).collect::<PyResult<Vec<_>>>().map(J::Array);
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            let mut map = serde_json::Map::new();
            for (k, v) in dict.iter() {
                map.insert(k.str()?.to_cow()?.into_owned(), json_at(&v, depth + 1)?);
            }
            return Ok(J::Object(map));
        }
    }
    Ok(J::String(value.str()?.to_cow()?.into_owned()))
}

/// A tag's value as text (`str()` of anything but a string).
pub fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Ok(value.str()?.to_cow()?.into_owned()),
    }
}
