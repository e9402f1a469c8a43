//! The session's history: execution counts and the code of every stored
//! cell, answering `history_request` (range, tail, search with `*` and `?`).

use jupyter_protocol::HistoryRequest;
use serde_json::{Value, json};

/// Cells of this session, numbered from 1 (the execution count).
#[derive(Debug, Default)]
pub struct History {
    inputs: Vec<String>,
}

/// expman keeps one session per kernel process; its number in replies.
const SESSION: usize = 1;

impl History {
    /// Stores a cell; its execution count.
    pub fn record(&mut self, code: &str) -> usize {
        self.inputs.push(code.to_string());
        self.inputs.len()
    }

    /// The count of the last stored cell (0 before any).
    pub fn count(&self) -> usize {
        self.inputs.len()
    }

    fn entry(&self, line: usize, output: bool) -> Value {
        let input = &self.inputs[line - 1];
        if output { json!([SESSION, line, [input, ""]]) } else { json!([SESSION, line, input]) }
    }

    /// The `history_reply` content.
    pub fn answer(&self, request: &HistoryRequest) -> Value {
        let all = 1..=self.inputs.len();
        let lines: Vec<usize> = match request {
            HistoryRequest::Tail { n, .. } => {
                let n = usize::try_from(*n).unwrap_or(0);
                all.clone().skip(self.inputs.len().saturating_sub(n)).collect()
            }
            HistoryRequest::Range { start, stop, .. } => {
                // IPython's convention: negative numbers count from the end,
                // `stop` is exclusive, 0 means "to the end".
                let len = self.inputs.len() as i64;
                let at = |i: i32| if i < 0 { len + 1 + i64::from(i) } else { i64::from(i) };
                let start = at(*start).max(1);
                let stop = if *stop == 0 { len + 1 } else { at(*stop) };
                all.clone().filter(|&l| (l as i64) >= start && (l as i64) < stop).collect()
            }
            HistoryRequest::Search { pattern, unique, n, .. } => {
                let mut hits: Vec<usize> = all.clone().filter(|&l| glob(pattern, &self.inputs[l - 1])).collect();
                if *unique {
                    let mut seen = std::collections::HashSet::new();
                    hits.retain(|&l| seen.insert(self.inputs[l - 1].as_str()));
                }
                let n = usize::try_from(*n).unwrap_or(0);
                if n > 0 && hits.len() > n {
                    hits.drain(..hits.len() - n);
                }
                hits
            }
        };
        let output = match request {
            HistoryRequest::Tail { output, .. }
            | HistoryRequest::Range { output, .. }
            | HistoryRequest::Search { output, .. } => *output,
        };
        json!({"status": "ok", "history": lines.into_iter().map(|l| self.entry(l, output)).collect::<Vec<_>>()})
    }
}

/// Shell-style matching: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_range_and_search() {
        let mut h = History::default();
        for code in ["%expman runs", "!ls", "%expman runs", "%expman show abc"] {
            h.record(code);
        }
        let tail = h.answer(&HistoryRequest::Tail { n: 2, output: false, raw: true });
        assert_eq!(tail["history"], json!([[1, 3, "%expman runs"], [1, 4, "%expman show abc"]]));
        let range = h.answer(&HistoryRequest::Range { session: None, start: 2, stop: 4, output: true, raw: true });
        assert_eq!(range["history"], json!([[1, 2, ["!ls", ""]], [1, 3, ["%expman runs", ""]]]));
        let search = h.answer(&HistoryRequest::Search {
            pattern: "%expman r*".into(),
            unique: true,
            output: false,
            raw: true,
            n: 0,
        });
        assert_eq!(search["history"], json!([[1, 1, "%expman runs"]]));
        assert!(glob("1?2*", "1x2yz") && !glob("1?2*", "12"));
    }
}
