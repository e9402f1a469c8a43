//! TensorBoard (`type: tensorboard`, optional `logdir`): an event file per
//! run under `<logdir>/<experiment>/<trial>/<run id>/`, so that
//! `tensorboard --logdir` lists trials and their runs, with every metric
//! point as a scalar (its step and wall time) and the HParams plugin's
//! session records (the run's params at its start, its status at its end),
//! so the HParams dashboard lists each run's params beside its metrics.
//!
//! The files are TFRecord framed (length, masked CRC-32C of the length,
//! data, masked CRC-32C of the data) `Event` protobufs, encoded here by
//! hand: the handful of fields TensorBoard reads does not justify a
//! protobuf code generator.

use std::path::PathBuf;

use expman_schema::model::TrackerConfig;

use super::files::{Appender, memo_object, set_memo};
use super::{Memo, TrackedRun, TrackedTrial, Tracker, TrackerContext, TrackerEnv, TrackerResult, param_text};
use expman_os::safe_name;
use expman_store::{ArtifactRow, HardwareRow, MetricRow, ParamValue, RunStatus};

pub struct TensorboardTracker {
    logdir: PathBuf,
}

impl TensorboardTracker {
    pub fn from_config(config: &TrackerConfig, env: &TrackerEnv) -> TensorboardTracker {
        let logdir = env.workspace.join(config.logdir.as_deref().unwrap_or("tensorboard"));
        TensorboardTracker { logdir }
    }

    /// The run's event file, named once (in the memo) and kept.
    fn file(&self, cx: &TrackerContext<'_>, run: &TrackedRun, memo: &mut Memo) -> (PathBuf, u64) {
        let mut m = memo_object(memo);
        let name = match m.get("file").and_then(|f| f.as_str()) {
            Some(name) => name.to_string(),
            None => {
                let host = expman_os::process::host_name();
                let name = format!("events.out.tfevents.{}.{}.expman", run.created_at / 1000, safe_name(&host));
                m.insert("file".into(), name.clone().into());
                set_memo(memo, m.clone());
                name
            }
        };
        let dir =
            self.logdir.join(safe_name(&cx.experiment.name)).join(safe_name(&run.trial)).join(safe_name(&run.uid));
        (dir.join(name), m.get("len").and_then(|l| l.as_u64()).unwrap_or(0))
    }

    /// Appends `events` to the run's file (the file version record first).
    fn append(
        &self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        memo: &mut Memo,
        events: &[Vec<u8>],
    ) -> TrackerResult<()> {
        let (path, len) = self.file(cx, run, memo);
        let mut out = Appender::open(&path, len)?;
        if out.is_empty() {
            out.write(&record(&file_version_event(run.created_at)))?;
        }
        for e in events {
            out.write(&record(e))?;
        }
        let len = out.finish()?;
        let mut m = memo_object(memo);
        m.insert("len".into(), len.into());
        set_memo(memo, m);
        Ok(())
    }
}

impl Tracker for TensorboardTracker {
    fn experiment(&mut self, _cx: &TrackerContext<'_>) -> TrackerResult<Option<String>> {
        Ok(None)
    }

    fn run_started(
        &mut self,
        cx: &TrackerContext<'_>,
        _trial: &TrackedTrial,
        run: &TrackedRun,
        memo: &mut Memo,
    ) -> TrackerResult<Option<String>> {
        self.append(cx, run, memo, &[])?;
        Ok(None)
    }

    fn params_and_tags(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        params: &[(String, ParamValue)],
        _tags: &[(String, String)],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let start = run.started_at.unwrap_or(run.created_at);
        let event =
            hparams_event(start, "_hparams_/session_start_info", &session_start_info(params, &run.trial, start));
        self.append(cx, run, memo, &[event])
    }

    fn metrics(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        points: &[MetricRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let events: Vec<Vec<u8>> = points.iter().map(|p| scalar_event(p.timestamp, p.step, &p.key, p.value)).collect();
        self.append(cx, run, memo, &events)
    }

    fn hardware(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        samples: &[HardwareRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let start = run.started_at.unwrap_or(run.created_at);
        let mut events = Vec::new();
        for s in samples {
            let step = (s.timestamp - start).max(0) / 1000;
            if let Some(cpu) = s.cpu_percent {
                events.push(scalar_event(s.timestamp, step, "system/cpu_percent", cpu));
            }
            if let Some(rss) = s.rss {
                events.push(scalar_event(s.timestamp, step, "system/rss_mib", rss as f64 / (1 << 20) as f64));
            }
            if let Some(gpu) = s.gpu_percent {
                events.push(scalar_event(s.timestamp, step, "system/gpu_percent", gpu));
            }
        }
        self.append(cx, run, memo, &events)
    }

    fn run_ended(
        &mut self,
        cx: &TrackerContext<'_>,
        run: &TrackedRun,
        _artifacts: &[ArtifactRow],
        memo: &mut Memo,
    ) -> TrackerResult<()> {
        let end = run.ended_at.unwrap_or(run.created_at);
        let status = match run.status {
            RunStatus::Success | RunStatus::EarlyStopped | RunStatus::Pruned => 1,
            RunStatus::Running | RunStatus::Pending => 3,
            _ => 2,
        };
        let mut info = Vec::new();
        put_varint_field(&mut info, 1, status);
        put_double(&mut info, 2, end as f64 / 1000.0);
        let event = hparams_event(end, "_hparams_/session_end_info", &plugin_data(4, &info));
        self.append(cx, run, memo, &[event])
    }
}

// --- TFRecord framing --------------------------------------------------------------------

/// One TFRecord: length, masked CRC of the length, data, masked CRC of the data.
pub fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// CRC-32C (Castagnoli), bit-reflected, table driven.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

// --- protobuf, by hand -------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, 0);
    put_varint(out, v);
}

fn put_double(out: &mut Vec<u8>, field: u32, v: f64) {
    put_key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_float(out: &mut Vec<u8>, field: u32, v: f32) {
    put_key(out, field, 5);
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time, step, <rest> }`.
fn event(ms: i64, step: i64, rest: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut e = Vec::new();
    put_double(&mut e, 1, ms as f64 / 1000.0);
    if step != 0 {
        put_varint_field(&mut e, 2, step as u64);
    }
    rest(&mut e);
    e
}

fn file_version_event(ms: i64) -> Vec<u8> {
    event(ms, 0, |e| put_bytes(e, 3, b"brain.Event:2"))
}

/// A scalar: `Event.summary { value { tag, simple_value } }`.
pub fn scalar_event(ms: i64, step: i64, tag: &str, value: f64) -> Vec<u8> {
    let mut v = Vec::new();
    put_bytes(&mut v, 1, tag.as_bytes());
    put_float(&mut v, 2, value as f32);
    let mut summary = Vec::new();
    put_bytes(&mut summary, 1, &v);
    event(ms, step, |e| put_bytes(e, 5, &summary))
}

/// `HParamsPluginData { version: 0, <field>: message }`.
fn plugin_data(field: u32, message: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    put_bytes(&mut data, field, message);
    data
}

/// A summary value carrying HParams plugin data under `tag`.
fn hparams_event(ms: i64, tag: &str, content: &[u8]) -> Vec<u8> {
    let mut plugin = Vec::new();
    put_bytes(&mut plugin, 1, b"hparams");
    put_bytes(&mut plugin, 2, content);
    let mut metadata = Vec::new();
    put_bytes(&mut metadata, 1, &plugin);
    let mut v = Vec::new();
    put_bytes(&mut v, 1, tag.as_bytes());
    put_bytes(&mut v, 9, &metadata);
    let mut summary = Vec::new();
    put_bytes(&mut summary, 1, &v);
    event(ms, 0, |e| put_bytes(e, 5, &summary))
}

/// `SessionStartInfo { hparams: map<string, Value>, group_name, start_time_secs }`.
fn session_start_info(params: &[(String, ParamValue)], group: &str, start_ms: i64) -> Vec<u8> {
    let mut info = Vec::new();
    for (key, value) in params {
        // google.protobuf.Value: number_value 2, string_value 3, bool_value 4.
        let mut v = Vec::new();
        match value {
            ParamValue::Int(i) => put_double(&mut v, 2, *i as f64),
            ParamValue::Float(f) => put_double(&mut v, 2, *f),
            ParamValue::Bool(b) => put_varint_field(&mut v, 4, u64::from(*b)),
            other => put_bytes(&mut v, 3, param_text(other).as_bytes()),
        }
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, key.as_bytes());
        put_bytes(&mut entry, 2, &v);
        put_bytes(&mut info, 1, &entry);
    }
    put_bytes(&mut info, 4, group.as_bytes());
    put_double(&mut info, 5, start_ms as f64 / 1000.0);
    plugin_data(3, &info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_framing() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        let r = record(b"abc");
        assert_eq!(r.len(), 8 + 4 + 3 + 4);
        assert_eq!(&r[..8], &3u64.to_le_bytes());
        assert_eq!(&r[12..15], b"abc");
    }

    #[test]
    fn a_scalar_event_is_the_protobuf_tensorboard_reads() {
        let e = scalar_event(1500, 3, "loss", 0.5);
        // wall_time 1.5 (field 1, fixed64), step 3 (field 2, varint), summary (field 5).
        let mut expected = vec![0x09];
        expected.extend_from_slice(&1.5f64.to_le_bytes());
        expected.extend_from_slice(&[0x10, 3, 0x2a, 13, 0x0a, 11, 0x0a, 4]);
        expected.extend_from_slice(b"loss");
        expected.push(0x15);
        expected.extend_from_slice(&0.5f32.to_le_bytes());
        assert_eq!(e, expected);
    }
}
