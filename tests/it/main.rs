//! End-to-end tests, one binary for the whole workspace (each test binary
//! links everything again, so there is only this one).

// The tests drive binaries (expman, fake-trial, python3, git, sacct) as a
// user would, with their own environments and pipes: the one place besides
// expman-os allowed to start processes directly.
#![allow(clippy::disallowed_methods)]

mod artifacts;
mod callbacks;
mod cli_config;
mod cli_record;
mod config_corpus;
mod direct;
mod disk;
mod fuzz_regressions;
mod hardware_capture;
mod mariadb;
mod python_client;
mod query;
mod runner;
mod rust_pipeline;
mod s3;
mod search;
mod slurm;
mod store;
pub mod support;
mod tidy;
mod ui;
