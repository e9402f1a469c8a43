//! End-to-end tests, one binary for the whole workspace (each test binary
//! links everything again, so there is only this one).

mod callbacks;
mod cli_config;
mod cli_record;
mod config_corpus;
mod hardware_capture;
mod mariadb;
mod python_client;
mod query;
mod runner;
mod rust_pipeline;
mod slurm;
mod store;
