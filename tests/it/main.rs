//! End-to-end tests, one binary for the whole workspace (each test binary
//! links everything again, so there is only this one).

mod cli_config;
mod config_corpus;
