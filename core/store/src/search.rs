//! Searches in the record: a search (a trial's `search:` as run), its
//! points (each suggestion, numbered, with the run trying it), and the
//! history a sampler or pruner reads back: each point's state, final value
//! and intermediate values of the objective.
//!
//! A point is claimed in one `BEGIN IMMEDIATE` transaction that reads the
//! history, asks the caller for the next suggestion, and inserts the point
//! and its PENDING run together: runners sharing a search never make the
//! same suggestion twice, and a runner killed at any moment leaves no point
//! without a run.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::records::{NewRun, RunRef, RunStatus};
use crate::write::{insert_run, upsert_trial};
use crate::{SqlContext, Store, StoreError};
use expman_os::time::now_ms;

/// The error a run gets when the user stops it: such a run is not tried
/// again by a resumed search (one killed by Ctrl-C or lost with its runner is).
pub const STOPPED_BY_USER: &str = "stopped by the user";

/// A search as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchRecord {
    pub id: i64,
    pub experiment: String,
    pub trial: String,
    pub fingerprint: String,
    pub definition: String,
    pub metric: String,
    /// `min` or `max`.
    pub mode: String,
    pub budget: u32,
    pub created_at: i64,
}

/// What a new search is.
#[derive(Clone, Debug)]
pub struct NewSearch<'a> {
    pub experiment_id: i64,
    pub trial: &'a str,
    pub fingerprint: &'a str,
    pub definition: &'a str,
    pub metric: &'a str,
    pub mode: &'a str,
    pub budget: u32,
}

/// One suggestion of a search and how its run stands.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPoint {
    pub number: u64,
    /// One value per dimension, as JSON (as the caller wrote it).
    pub params: String,
    pub run: Option<RunRef>,
    /// The run's trial (the name with its values).
    pub trial: Option<String>,
    /// The settings it tried, as the trial row keeps them (JSON: dotted
    /// key → value as in the config).
    pub settings: Option<String>,
    pub status: Option<RunStatus>,
    pub error: Option<String>,
    /// The objective's last reported value (NaN when it was NaN).
    pub value: Option<f64>,
    /// The objective by step (or epoch), ascending.
    pub intermediate: Vec<(u64, f64)>,
}

impl SearchPoint {
    /// Ended in a way that says nothing about its settings (Ctrl-C, its
    /// runner lost): a resumed search runs it again.
    pub fn interrupted(&self) -> bool {
        match self.status {
            Some(RunStatus::Lost) => true,
            Some(RunStatus::Killed) => !self.error.as_deref().is_some_and(|e| e.starts_with(STOPPED_BY_USER)),
            None => self.run.is_none(),
            _ => false,
        }
    }
}

/// Where the objective is read from.
#[derive(Clone, Copy, Debug)]
pub struct Objective<'a> {
    pub metric: &'a str,
    /// Intermediate values by epoch (the last value logged in each), else
    /// by step.
    pub by_epoch: bool,
}

/// A point to record with its run, from [`Store::claim_search_point`].
#[derive(Clone, Debug)]
pub struct PointClaim {
    pub number: u64,
    pub params: String,
    pub trial: String,
    pub trial_base: String,
    /// The trial row's `sweep` (the point's values as JSON).
    pub sweep: Option<String>,
    pub description: Option<String>,
    /// The run; its `trial_id` and `attempt` are filled in here.
    pub run: NewRun,
    pub uid: String,
}

impl Store {
    /// The search to go on with: with `resume`, the latest of this trial
    /// defined the same way (same fingerprint), else (or when there is
    /// none) a new one. The bool says whether it was continued.
    pub fn open_search(&mut self, new: &NewSearch<'_>, resume: bool) -> Result<(SearchRecord, bool), StoreError> {
        let id = self.write(|tx| {
            let found: Option<i64> = if resume {
                tx.query_row(
                    "SELECT id FROM searches WHERE experiment_id = ?1 AND trial = ?2 AND fingerprint = ?3 ORDER BY id DESC LIMIT 1",
                    params![new.experiment_id, new.trial, new.fingerprint],
                    |r| r.get(0),
                )
                .optional()?
            } else {
                None
            };
            if let Some(id) = found {
                return Ok((id, true));
            }
            tx.execute(
                "INSERT INTO searches (experiment_id, trial, fingerprint, definition, metric, mode, budget, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    new.experiment_id,
                    new.trial,
                    new.fingerprint,
                    new.definition,
                    new.metric,
                    new.mode,
                    new.budget,
                    now_ms()
                ],
            )?;
            Ok((tx.last_insert_rowid(), false))
        })?;
        let record = self.search(id.0)?;
        Ok((record, id.1))
    }

    /// A search by id.
    pub fn search(&self, id: i64) -> Result<SearchRecord, StoreError> {
        self.conn().query_row(&format!("{SEARCH_SELECT} WHERE s.id = ?1"), [id], search_row).ctx(&self.path)
    }

    /// The searches of an experiment (every experiment's, for `None`; of
    /// one trial, when given), oldest first.
    pub fn searches(&self, experiment: Option<&str>, trial: Option<&str>) -> Result<Vec<SearchRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "{SEARCH_SELECT} WHERE (?1 IS NULL OR e.name = ?1) AND (?2 IS NULL OR s.trial = ?2) ORDER BY s.id"
            ))
            .ctx(&self.path)?;
        let rows = stmt.query_map(params![experiment, trial], search_row).ctx(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(&self.path)
    }

    /// The search a run tries a point of, with the point's number.
    pub fn search_of_run(&self, run_id: i64) -> Result<Option<(i64, u64)>, StoreError> {
        self.conn()
            .query_row("SELECT search_id, number FROM search_points WHERE run_id = ?1", [run_id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .optional()
            .ctx(&self.path)
    }

    /// Every point of a search, by number.
    pub fn search_points(&self, search_id: i64, objective: Objective<'_>) -> Result<Vec<SearchPoint>, StoreError> {
        read_points(self.conn(), search_id, objective).ctx(&self.path)
    }

    /// In one transaction: reads the search's points, asks `choose` for
    /// the next one (a new number, or a point to run again), and records it
    /// with its PENDING run (and the run's trial). `Ok(Ok(None))`: `choose`
    /// had nothing to suggest; `Ok(Err(e))`: `choose` failed (nothing is
    /// written).
    pub fn claim_search_point<E>(
        &mut self,
        search_id: i64,
        objective: Objective<'_>,
        choose: impl FnOnce(&[SearchPoint]) -> Result<Option<PointClaim>, E>,
    ) -> Result<Result<Option<(u64, RunRef)>, E>, StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&path)?;
        let points = read_points(&tx, search_id, objective).ctx(&path)?;
        let claim = match choose(&points) {
            Ok(Some(claim)) => claim,
            Ok(None) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(e)),
        };
        let id = (|| {
            let mut run = claim.run.clone();
            run.trial_id = upsert_trial(
                &tx,
                run.experiment_id,
                &claim.trial,
                &claim.trial_base,
                claim.sweep.as_deref(),
                claim.description.as_deref(),
            )?;
            run.attempt = tx.query_row(
                "SELECT COUNT(*) + 1 FROM runs WHERE trial_id = ?1 AND repeat = ?2 AND config_hash = ?3",
                params![run.trial_id, run.repeat, run.config_hash],
                |r| r.get(0),
            )?;
            let id = insert_run(&tx, &run, &claim.uid)?;
            tx.execute(
                "INSERT INTO search_points (search_id, number, params, run_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (search_id, number) DO UPDATE SET run_id = excluded.run_id",
                params![search_id, claim.number as i64, claim.params, id, now_ms()],
            )?;
            Ok(id)
        })()
        .ctx(&path)?;
        tx.commit().ctx(&path)?;
        Ok(Ok(Some((claim.number, RunRef { id, uid: claim.uid }))))
    }
}

const SEARCH_SELECT: &str =
    "SELECT s.id, e.name, s.trial, s.fingerprint, s.definition, s.metric, s.mode, s.budget, s.created_at
     FROM searches s JOIN experiments e ON e.id = s.experiment_id";

fn search_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SearchRecord> {
    Ok(SearchRecord {
        id: r.get(0)?,
        experiment: r.get(1)?,
        trial: r.get(2)?,
        fingerprint: r.get(3)?,
        definition: r.get(4)?,
        metric: r.get(5)?,
        mode: r.get(6)?,
        budget: r.get(7)?,
        created_at: r.get(8)?,
    })
}

fn read_points(conn: &Connection, search_id: i64, objective: Objective<'_>) -> rusqlite::Result<Vec<SearchPoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.number, p.params, p.run_id, r.uid, t.name, r.status, r.error, s.last_value, s.count, t.sweep
         FROM search_points p
         LEFT JOIN runs r ON r.id = p.run_id
         LEFT JOIN trials t ON t.id = r.trial_id
         LEFT JOIN metric_summaries s ON s.run_id = p.run_id AND s.key = ?2
         WHERE p.search_id = ?1 ORDER BY p.number",
    )?;
    let mut points: Vec<SearchPoint> = stmt
        .query_map(params![search_id, objective.metric], |r| {
            let run = match (r.get::<_, Option<i64>>(2)?, r.get::<_, Option<String>>(3)?) {
                (Some(id), Some(uid)) => Some(RunRef { id, uid }),
                _ => None,
            };
            let count: Option<i64> = r.get(8)?;
            let value = count.filter(|n| *n > 0).map(|_| r.get::<_, Option<f64>>(7)).transpose()?;
            Ok(SearchPoint {
                number: r.get::<_, i64>(0)? as u64,
                params: r.get(1)?,
                run,
                trial: r.get(4)?,
                settings: r.get(9)?,
                status: r.get::<_, Option<String>>(5)?.map(|s| RunStatus::parse(&s).unwrap_or(RunStatus::Lost)),
                error: r.get(6)?,
                value: value.map(|v| v.unwrap_or(f64::NAN)),
                intermediate: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT p.number, m.step, m.epoch, m.value FROM search_points p
         JOIN metrics m ON m.run_id = p.run_id AND m.key = ?2
         WHERE p.search_id = ?1 ORDER BY p.number, m.step, m.timestamp",
    )?;
    let mut rows = stmt.query(params![search_id, objective.metric])?;
    let mut at = 0;
    while let Some(r) = rows.next()? {
        let number = r.get::<_, i64>(0)? as u64;
        let step: i64 = r.get(1)?;
        let epoch: Option<i64> = r.get(2)?;
        let value = r.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN);
        while at < points.len() && points[at].number < number {
            at += 1;
        }
        let Some(point) = points.get_mut(at).filter(|p| p.number == number) else { continue };
        let x = if objective.by_epoch {
            match epoch {
                Some(e) => e,
                None => continue,
            }
        } else {
            step
        };
        let x = x.max(0) as u64;
        // Rows come by step: the last value logged at an epoch wins.
        match point.intermediate.last_mut() {
            Some(last) if last.0 == x => last.1 = value,
            Some(last) if last.0 > x => {
                let i = point.intermediate.partition_point(|(s, _)| *s < x);
                if point.intermediate.get(i).is_some_and(|(s, _)| *s == x) {
                    point.intermediate[i].1 = value;
                } else {
                    point.intermediate.insert(i, (x, value));
                }
            }
            _ => point.intermediate.push((x, value)),
        }
    }
    Ok(points)
}
