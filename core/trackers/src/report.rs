//! What a sync of one tracker did, as the runner, `expman sync` and the
//! kernel report it.

/// What one sync of one tracker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub tracker: String,
    pub runs_started: usize,
    pub points: usize,
    pub samples: usize,
    pub runs_ended: usize,
    /// Everything the record held at the start of the pass is sent.
    pub caught_up: bool,
    /// Metric points still to send.
    pub pending_points: i64,
    /// Run ends still to send.
    pub pending_ends: usize,
    /// Why it stopped early (the back end is down, ...).
    pub error: Option<String>,
    /// Data the back end refused for good (skipped).
    pub rejected: Vec<String>,
}

impl SyncReport {
    /// `mlflow: 1,234 points, 3 runs ended; caught up`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.runs_started > 0 {
            parts.push(format!("{} run(s)", self.runs_started));
        }
        if self.points > 0 {
            parts.push(format!("{} point(s)", self.points));
        }
        if self.samples > 0 {
            parts.push(format!("{} hardware sample(s)", self.samples));
        }
        if self.runs_ended > 0 {
            parts.push(format!("{} run end(s)", self.runs_ended));
        }
        let done =
            if parts.is_empty() { "nothing new to send".to_string() } else { format!("sent {}", parts.join(", ")) };
        let state = match &self.error {
            None if self.caught_up => "up to date".to_string(),
            None => format!("{} point(s) and {} run end(s) still to send", self.pending_points, self.pending_ends),
            Some(e) => format!("{} point(s) and {} run end(s) wait: {e}", self.pending_points, self.pending_ends),
        };
        format!("{}: {done}; {state}", self.tracker)
    }

    /// Adds what `other` sent; its state (caught up, pending, error) wins.
    pub fn absorb(&mut self, other: SyncReport) {
        self.runs_started += other.runs_started;
        self.points += other.points;
        self.samples += other.samples;
        self.runs_ended += other.runs_ended;
        self.caught_up = other.caught_up;
        self.pending_points = other.pending_points;
        self.pending_ends = other.pending_ends;
        self.error = other.error;
        self.rejected.extend(other.rejected);
    }
}
