//! expman-os: the engine's one door to the operating system.
//!
//! - [`process`]: trials start only through [`process::command`] (own
//!   process group, explicit environment, a working directory, the
//!   parent-death signal); tools (`git`, `sbatch`, ...) through
//!   [`process::tool`]; signals, liveness by pid and start time;
//! - [`time`]: milliseconds since the epoch, UTC and duration formatting;
//! - [`names`]: names made safe as path components;
//! - [`format`]: numbers and sizes as people read them;
//! - [`hardware`]: one sample of the machine, its GPUs (feature `nvml`:
//!   NVML loaded at run time) and process trees.
//!
//! Invariant: this crate knows nothing of configs, the record or runs; it
//! depends on no other expman crate.

pub mod format;
pub mod hardware;
pub mod names;
pub mod process;
pub mod time;

pub use names::safe_name;
