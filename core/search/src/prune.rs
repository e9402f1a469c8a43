//! Pruners: whether a trial should stop after reporting an intermediate
//! value of the objective at a step (an epoch, usually), judged against
//! the other trials of the search.
//!
//! - ASHA (Li et al., MLSys 2020): rungs at `min·ηᵏ` steps below `max`; a
//!   trial reaching a rung goes on only if its value there is in the best
//!   1/η of the values every trial had there (the first trials at a rung
//!   go on only if best so far), decided once, when it gets there;
//! - Hyperband (Li et al., JMLR 2018): trials spread over brackets by
//!   budget, each bracket an ASHA with its own first rung, compared only
//!   within it;
//! - median: after `startup_trials` complete trials and `warmup_steps`,
//!   a trial whose best value so far is worse than the median of complete
//!   trials' values at the same step.

use crate::history::{Mode, Observation, State};
use crate::rng::Rng;

/// A pruner and its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pruner {
    Asha { min: u64, max: u64, reduction: u64 },
    Hyperband { min: u64, max: u64, reduction: u64 },
    Median { startup_trials: usize, warmup_steps: u64 },
}

/// Why a trial is stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Pruned {
    /// The step it was judged at (a rung, or the step it reported).
    pub step: u64,
    /// Its value there.
    pub value: f64,
    /// The value it had to match.
    pub threshold: f64,
    /// How many trials' values it was compared with (its own included).
    pub compared: usize,
    /// Which rule: "ASHA rung 2", "Hyperband bracket 1 rung 0", "median".
    pub rule: String,
}

impl Pruned {
    /// A sentence for the run's record: `resource` names the steps
    /// (`epoch`), `metric` the objective.
    pub fn describe(&self, resource: &str, metric: &str) -> String {
        format!(
            "pruned by {} at {resource} {}: {metric} {} is worse than {} (compared with {} trial(s))",
            self.rule,
            self.step,
            short(self.value),
            short(self.threshold),
            self.compared
        )
    }
}

fn short(x: f64) -> String {
    format!("{x:.6}").trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Pruner {
    /// Judges `trial` after its last report (its last intermediate entry)
    /// against `others` (the other trials of the search, any state).
    pub fn judge(&self, mode: Mode, seed: u64, trial: &Observation, others: &[Observation]) -> Option<Pruned> {
        match *self {
            Pruner::Asha { min, max, reduction } => {
                asha(mode, min, max, reduction, trial, others.iter(), "ASHA".into())
            }
            Pruner::Hyperband { min, max, reduction } => {
                let budgets = bracket_budgets(min, max, reduction);
                let bracket = bracket_of(seed, trial.number, &budgets);
                let rung_min = min.saturating_mul(reduction.max(2).saturating_pow(bracket as u32));
                let same = others.iter().filter(|o| bracket_of(seed, o.number, &budgets) == bracket);
                asha(mode, rung_min, max, reduction, trial, same, format!("Hyperband bracket {bracket}"))
            }
            Pruner::Median { startup_trials, warmup_steps } => {
                median(mode, startup_trials, warmup_steps, trial, others)
            }
        }
    }
}

impl Pruner {
    /// Whether a report at `step` (after one at `previous`) can be judged
    /// at all: ASHA and Hyperband decide only when a trial reaches a rung,
    /// so the others' values need not be read at every step.
    pub fn decides_at(&self, seed: u64, number: u64, previous: Option<u64>, step: u64) -> bool {
        let reaches = |rungs: Vec<u64>| rungs.iter().any(|r| *r <= step && previous.is_none_or(|p| p < *r));
        match *self {
            Pruner::Asha { min, max, reduction } => reaches(rungs(min, max, reduction)),
            Pruner::Hyperband { min, max, reduction } => {
                let budgets = bracket_budgets(min, max, reduction);
                let bracket = bracket_of(seed, number, &budgets);
                let rung_min = min.saturating_mul(reduction.max(2).saturating_pow(bracket as u32));
                reaches(rungs(rung_min, max, reduction))
            }
            Pruner::Median { warmup_steps, .. } => step >= warmup_steps,
        }
    }
}

/// The rungs (steps) of an ASHA from `min` below `max`.
pub fn rungs(min: u64, max: u64, reduction: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut r = min.max(1);
    while r < max {
        out.push(r);
        r = r.saturating_mul(reduction.max(2));
    }
    out
}

fn asha<'a>(
    mode: Mode,
    min: u64,
    max: u64,
    reduction: u64,
    trial: &Observation,
    others: impl Iterator<Item = &'a Observation> + Clone,
    rule: String,
) -> Option<Pruned> {
    let (step, value) = trial.last()?;
    let previous = trial.intermediate.len().checked_sub(2).map(|i| trial.intermediate[i].0);
    let eta = reduction.max(2) as usize;
    for (k, rung) in rungs(min, max, reduction).into_iter().enumerate() {
        // Decided once: at the report that reached the rung.
        let reached_now = rung <= step && previous.is_none_or(|p| p < rung);
        if !reached_now {
            continue;
        }
        let mut competing: Vec<f64> = others
            .clone()
            .filter(|o| o.number != trial.number && o.state != State::Failed)
            .filter_map(|o| o.value_at_or_after(rung))
            .map(|v| mode.loss(v))
            .collect();
        competing.push(mode.loss(value));
        competing.sort_by(f64::total_cmp);
        let index = (competing.len() / eta).saturating_sub(1);
        let threshold = competing[index];
        if mode.loss(value) > threshold {
            let shown = |loss: f64| if mode == Mode::Max { -loss } else { loss };
            return Some(Pruned {
                step: rung,
                value,
                threshold: shown(threshold),
                compared: competing.len(),
                rule: format!("{rule} rung {k}"),
            });
        }
    }
    None
}

/// Hyperband's brackets' shares of trials (Optuna's budgets): bracket i
/// starts at `min·ηⁱ`.
pub fn bracket_budgets(min: u64, max: u64, reduction: u64) -> Vec<u64> {
    let eta = reduction.max(2) as f64;
    let brackets = ((max as f64 / min.max(1) as f64).ln() / eta.ln()).floor().max(0.0) as u32 + 1;
    (0..brackets)
        .map(|i| ((brackets as f64) * eta.powi((brackets - 1 - i) as i32) / (brackets - i) as f64).ceil() as u64)
        .collect()
}

/// The bracket of trial `number` (fixed by the seed).
fn bracket_of(seed: u64, number: u64, budgets: &[u64]) -> usize {
    let total: u64 = budgets.iter().sum();
    let mut x = Rng::stream(seed ^ 0x4879_7065_7262_616E, number).below(total.max(1));
    for (i, b) in budgets.iter().enumerate() {
        if x < *b {
            return i;
        }
        x -= b;
    }
    0
}

fn median(mode: Mode, startup: usize, warmup: u64, trial: &Observation, others: &[Observation]) -> Option<Pruned> {
    let (step, _) = trial.last()?;
    if step < warmup {
        return None;
    }
    let complete: Vec<&Observation> =
        others.iter().filter(|o| o.number != trial.number && matches!(o.state, State::Complete(_))).collect();
    if complete.len() < startup.max(1) {
        return None;
    }
    let mut at_step: Vec<f64> = complete.iter().filter_map(|o| o.value_at(step)).map(|v| mode.loss(v)).collect();
    if at_step.is_empty() {
        return None;
    }
    at_step.sort_by(f64::total_cmp);
    let n = at_step.len();
    let median = if n % 2 == 1 { at_step[n / 2] } else { 0.5 * (at_step[n / 2 - 1] + at_step[n / 2]) };
    let best = trial.intermediate.iter().map(|(_, v)| mode.loss(*v)).fold(f64::INFINITY, f64::min);
    let shown = |loss: f64| if mode == Mode::Max { -loss } else { loss };
    (best > median).then(|| Pruned {
        step,
        value: shown(best),
        threshold: shown(median),
        compared: n,
        rule: "median".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Value;

    #[test]
    fn asha_decides_only_where_a_rung_is_reached() {
        let asha = Pruner::Asha { min: 1, max: 40, reduction: 3 };
        let at = |previous, step| asha.decides_at(0, 0, previous, step);
        assert!(at(None, 1) && at(Some(2), 3) && at(Some(1), 5) && at(Some(26), 27));
        assert!(!at(Some(1), 2) && !at(Some(3), 8) && !at(Some(27), 39) && !at(None, 0));
        let median = Pruner::Median { startup_trials: 5, warmup_steps: 3 };
        assert!(!median.decides_at(0, 0, None, 2) && median.decides_at(0, 0, Some(2), 3));
    }

    fn curve(number: u64, state: State, values: &[f64]) -> Observation {
        Observation {
            number,
            params: vec![Value::Float(0.0)],
            state,
            intermediate: values.iter().enumerate().map(|(i, v)| (i as u64 + 1, *v)).collect(),
        }
    }

    #[test]
    fn asha_keeps_the_best_third_at_each_rung() {
        let asha = Pruner::Asha { min: 1, max: 27, reduction: 3 };
        assert_eq!(rungs(1, 27, 3), vec![1, 3, 9]);
        // Five trials reached rung 0 (step 1) with 1..5; a sixth at 4.5 is
        // not in the best 6/3 = 2.
        let others: Vec<Observation> = (0..5).map(|i| curve(i, State::Running, &[i as f64 + 1.0])).collect();
        let sixth = curve(9, State::Running, &[4.5]);
        let pruned = asha.judge(Mode::Min, 0, &sixth, &others).expect("pruned");
        assert_eq!((pruned.step, pruned.threshold, pruned.compared), (1, 2.0, 6));
        assert_eq!(
            pruned.describe("epoch", "val_loss"),
            "pruned by ASHA rung 0 at epoch 1: val_loss 4.5 is worse than 2 (compared with 6 trial(s))"
        );
        // A sixth at 1.5 goes on; so does the very first trial.
        assert!(asha.judge(Mode::Min, 0, &curve(9, State::Running, &[1.5]), &others).is_none());
        assert!(asha.judge(Mode::Min, 0, &curve(0, State::Running, &[9.0]), &[]).is_none());
        // Between rungs nothing is decided (step 2 reached no new rung).
        assert!(asha.judge(Mode::Min, 0, &curve(9, State::Running, &[1.5, 100.0]), &others).is_none());
        // Maximizing: the largest values are the best.
        assert!(asha.judge(Mode::Max, 0, &curve(9, State::Running, &[4.5]), &others).is_none());
        assert!(asha.judge(Mode::Max, 0, &curve(9, State::Running, &[1.5]), &others).is_some());
    }

    #[test]
    fn hyperband_spreads_trials_over_brackets_by_budget() {
        // ⌈4·3³⁻ⁱ/(4 - i)⌉ for the four brackets of 1..27 by 3.
        assert_eq!(bracket_budgets(1, 27, 3), vec![27, 12, 6, 4]);
        let budgets = bracket_budgets(1, 27, 3);
        let mut counts = [0u32; 4];
        for n in 0..4800 {
            counts[bracket_of(3, n, &budgets)] += 1;
        }
        // Shares 27:12:6:4 of 49.
        assert!((2450..2850).contains(&counts[0]) && (300..500).contains(&counts[3]), "{counts:?}");
        // Deterministic for a seed.
        assert_eq!(bracket_of(3, 17, &budgets), bracket_of(3, 17, &budgets));
    }

    #[test]
    fn median_prunes_below_the_median_after_startup() {
        let median = Pruner::Median { startup_trials: 3, warmup_steps: 1 };
        let complete: Vec<Observation> = [[3.0, 2.0], [4.0, 3.0], [5.0, 4.0]]
            .iter()
            .enumerate()
            .map(|(i, v)| curve(i as u64, State::Complete(v[1]), v))
            .collect();
        // Step 2: median of 2, 3, 4 is 3; best so far 3.5 is worse.
        let judged = median.judge(Mode::Min, 0, &curve(7, State::Running, &[4.0, 3.5]), &complete).expect("pruned");
        assert_eq!((judged.step, judged.threshold, judged.value), (2, 3.0, 3.5));
        assert!(median.judge(Mode::Min, 0, &curve(7, State::Running, &[4.0, 2.5]), &complete).is_none());
        // Too few complete trials, or within the warm-up.
        assert!(median.judge(Mode::Min, 0, &curve(7, State::Running, &[9.0, 9.0]), &complete[..2]).is_none());
        let warm = Pruner::Median { startup_trials: 3, warmup_steps: 5 };
        assert!(warm.judge(Mode::Min, 0, &curve(7, State::Running, &[9.0, 9.0]), &complete).is_none());
    }
}
