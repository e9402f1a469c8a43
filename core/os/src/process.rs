//! The one door for processes: [`command`] builds every trial process
//! (forced working directory, explicit environment, a process group of its
//! own, killed if the runner dies), [`tool`] every helper program expman
//! itself calls (git), [`shell`] commands a person typed. Also: signalling process groups, telling whether a
//! recorded pid is still the same process, host and user names.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

pub use nix::sys::signal::Signal;
use nix::sys::signal::killpg;
use nix::unistd::Pid;

/// A trial process: `program args...` in `cwd` with exactly `env`, in a new
/// process group (so that stopping a run reaches its children too), stdin
/// closed. On Linux the process is also killed if the runner dies
/// (`PR_SET_PDEATHSIG`), so a killed runner leaves no orphans behind.
#[allow(clippy::disallowed_methods)] // This is the door.
pub fn command<I, K, V>(program: &str, args: &[String], cwd: &Path, env: I) -> Command
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).env_clear().envs(env).stdin(Stdio::null()).process_group(0);
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl(2), which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd
}

/// A helper program expman runs for itself (e.g. `git`), in `cwd`, with the
/// caller's environment.
#[allow(clippy::disallowed_methods)] // The other door.
pub fn tool(program: &str, args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).stdin(Stdio::null());
    cmd
}

/// A shell command a person typed (a notebook's `!ls`): `sh -c line` in
/// `cwd` with the caller's environment, in its own process group (so that
/// an interrupt reaches everything it started), stdin closed.
#[allow(clippy::disallowed_methods)] // The third door: commands typed by the user.
pub fn shell(line: &str, cwd: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(cwd).stdin(Stdio::null()).process_group(0);
    cmd
}

/// What a finished process used, as the kernel counted it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// User + system CPU time of the process and of the children it waited for.
    pub cpu_ms: i64,
    /// The largest resident set of the process or of one of those children.
    pub max_rss: i64,
}

/// Waits for `child` like `Child::wait`, and returns what it used
/// (`wait4(2)`), which a sampler cannot see for a run shorter than its
/// interval. The child is reaped: do not wait for it again.
pub fn wait_with_usage(child: &mut std::process::Child) -> std::io::Result<(std::process::ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    loop {
        #[allow(unsafe_code)]
        // SAFETY: both pointers are to live, writable locals of the types
        // wait4 expects; it writes them only when it returns the pid.
        let got = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
        if got == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    #[allow(unsafe_code)]
    // SAFETY: zeroed is a valid rusage, and wait4 filled it in.
    let usage = unsafe { usage.assume_init() };
    let ms = |t: libc::timeval| t.tv_sec * 1000 + t.tv_usec / 1000;
    let used = Usage {
        cpu_ms: ms(usage.ru_utime) + ms(usage.ru_stime),
        // Linux counts ru_maxrss in KiB.
        max_rss: usage.ru_maxrss * 1024,
    };
    Ok((std::process::ExitStatus::from_raw(status), used))
}

/// Makes writing into a closed pipe end the process quietly, as it does
/// for every Unix tool (`expman runs | head`), instead of failing the write
/// (Rust ignores SIGPIPE, and `println!` then panics). Only for commands
/// that print and exit; servers (the kernel, the language server) keep
/// the write error.
pub fn default_sigpipe() {
    use nix::sys::signal::{SigHandler, signal};
    #[allow(unsafe_code)]
    // SAFETY: SIG_DFL installs no handler code, and this runs at start-up
    // before any other thread exists.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
}

/// Sends a signal to a whole process group; a group already gone is fine.
pub fn signal_group(pgid: u32, signal: Signal) -> bool {
    killpg(Pid::from_raw(pgid as i32), signal).is_ok()
}

/// The start time of a process (clock ticks since boot, from
/// `/proc/PID/stat`), to tell a recorded pid from a reused one.
pub fn start_time(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is alive and is the process that started at `started`
/// (when known).
pub fn is_alive(pid: u32, started: Option<i64>) -> bool {
    match (start_time(pid), started) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// This machine's name.
pub fn host_name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

/// Who runs expman (`USER`, else the numeric uid).
pub fn user_name() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".to_string())
}

/// `SIGSEGV (segmentation fault)` and the like.
pub fn describe_signal(signal: i32) -> String {
    let name = Signal::try_from(signal).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("signal {signal}"));
    let meaning = match signal {
        4 => " (illegal instruction)",
        6 => " (aborted)",
        7 => " (bus error)",
        8 => " (floating-point exception)",
        9 => " (killed)",
        11 => " (segmentation fault)",
        15 => " (terminated)",
        _ => "",
    };
    format!("{name}{meaning}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_get_their_own_group_and_only_the_given_env() {
        let dir = std::env::temp_dir();
        let out = command(
            "/bin/sh",
            &["-c".into(), "echo $$ $(ps -o pgid= $$) ${HOME:-nohome} $X".into()],
            &dir,
            [("X", "1"), ("PATH", "/usr/bin:/bin")],
        )
        .output()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let parts: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(parts[0], parts[1], "pid is its own process group: {text}");
        assert_eq!(parts[2], "nohome");
        assert_eq!(parts[3], "1");
    }

    #[test]
    fn alive_checks_the_start_time() {
        let me = std::process::id();
        let started = start_time(me);
        assert!(started.is_some());
        assert!(is_alive(me, started));
        assert!(!is_alive(me, started.map(|s| s + 1)));
        assert!(!is_alive(u32::MAX / 2, None));
        assert_eq!(describe_signal(11), "SIGSEGV (segmentation fault)");
    }
}
