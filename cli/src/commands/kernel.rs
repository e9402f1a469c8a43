//! `expman kernel install|start`: the Jupyter kernel's kernelspec, and the
//! kernel itself with the `%expman` magics as its interpreter.

use std::process::ExitCode;

use anyhow::Context;
use expman_kernel::kernelspec::{self, Location};

use super::MakeInterpreter;
use crate::args::{KernelCommand, KernelInstallArgs};

pub fn kernel(command: KernelCommand, interpreter: MakeInterpreter) -> anyhow::Result<ExitCode> {
    match command {
        KernelCommand::Install(args) => install(&args),
        KernelCommand::Start(args) => {
            expman_kernel::run(&args.connection_file, interpreter())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn install(args: &KernelInstallArgs) -> anyhow::Result<ExitCode> {
    let location = match (&args.prefix, args.sys_prefix) {
        (Some(p), _) => {
            Location::Prefix(std::path::absolute(p).with_context(|| format!("bad prefix {}", p.display()))?)
        }
        (None, true) => Location::SysPrefix,
        (None, false) => Location::User,
    };
    let exe = std::env::current_exe().context("cannot tell where this expman binary is")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let installed = kernelspec::install(&location, &exe)?;
    println!("installed the expman kernel in {}", installed.dir.display());
    println!("it runs {}", exe.display());
    if !installed.on_search_path {
        println!(
            "note: Jupyter does not look in {} by default; add it to JUPYTER_PATH:\n  export JUPYTER_PATH={}${{JUPYTER_PATH:+:$JUPYTER_PATH}}",
            installed.data_dir.display(),
            installed.data_dir.display()
        );
    }
    println!("check with `jupyter kernelspec list`; pick \"expman\" in JupyterLab's launcher");
    Ok(ExitCode::SUCCESS)
}
