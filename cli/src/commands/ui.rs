//! `expman ui`: serves the web dashboard of a workspace's record until
//! Ctrl-C. Binds first, then prints the URL (with the token when one is
//! required), then opens the browser when asked.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::record::locate;
use crate::args::UiArgs;
use crate::dashboard::Dashboard;

pub fn ui(args: UiArgs) -> anyhow::Result<ExitCode> {
    let workspace = locate(&args.record)?;
    let dashboard = Dashboard::open(workspace.clone())?;
    let options = expman_ui::Options { host: args.host, port: args.port, token: args.token.clone() };
    let bound = expman_ui::bind(&options).with_context(|| format!("cannot start the web UI on {}", args.host))?;
    let url = bound.url();
    eprintln!("expman ui: the record of {} at", workspace.root.display());
    println!("{url}");
    if bound.access.token_required() {
        eprintln!("(every request needs the token in that URL; Ctrl-C stops the server)");
    } else {
        eprintln!("(Ctrl-C stops the server)");
    }
    if args.open {
        open_browser(&url);
    }
    bound.serve(Arc::new(dashboard)).context("the web UI stopped")?;
    Ok(ExitCode::SUCCESS)
}

/// Opens `url` in the desktop's browser, or says how to.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let cwd = std::env::temp_dir();
    match expman_os::process::tool(opener, &[url], &cwd).spawn() {
        Ok(_) => {}
        Err(e) => eprintln!("cannot open a browser ({opener}: {e}); open {url} yourself"),
    }
}
