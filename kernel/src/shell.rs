//! `!command`: a shell command whose output streams into the cell as it
//! comes; the stop button interrupts its whole process group (SIGINT, then
//! SIGKILL after two seconds).

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use expman_os::process;

use crate::cell::Cell;
use crate::interpreter::CellError;

/// Runs `line` with `sh -c` in the kernel's working directory.
pub fn run(line: &str, cell: &Cell) -> Result<(), CellError> {
    let cwd =
        std::env::current_dir().map_err(|e| CellError::new("ShellError", format!("no working directory: {e}")))?;
    let mut child = process::shell(line, &cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CellError::new("ShellError", format!("cannot run `{line}`: {e}")))?;
    let readers: Vec<_> = [
        child.stdout.take().map(|s| (Box::new(s) as Box<dyn Read + Send>, true)),
        child.stderr.take().map(|s| (Box::new(s) as Box<dyn Read + Send>, false)),
    ]
    .into_iter()
    .flatten()
    .map(|(mut stream, is_stdout)| {
        let cell = cell.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut pending: Vec<u8> = Vec::new();
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        pending.extend_from_slice(&buf[..n]);
                        // Send whole UTF-8 characters; keep a split one for later.
                        let valid = match std::str::from_utf8(&pending) {
                            Ok(s) => s.len(),
                            Err(e) if e.error_len().is_none() => e.valid_up_to(),
                            Err(_) => pending.len(),
                        };
                        let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                        pending.drain(..valid);
                        if is_stdout { cell.stdout(&text) } else { cell.stderr(&text) }
                    }
                }
            }
            if !pending.is_empty() {
                let text = String::from_utf8_lossy(&pending).into_owned();
                if is_stdout { cell.stdout(&text) } else { cell.stderr(&text) }
            }
        })
    })
    .collect();
    let pid = child.id();
    let mut interrupted_at: Option<Instant> = None;
    let mut exited = false;
    // Until the shell has exited and every process that holds its output
    // (`cmd &`) has closed it; the stop button works all along.
    loop {
        if !exited {
            match child.try_wait() {
                Ok(Some(_)) => exited = true,
                Ok(None) => {}
                Err(e) => return Err(CellError::new("ShellError", format!("waiting for `{line}`: {e}"))),
            }
        }
        if exited && readers.iter().all(|r| r.is_finished()) {
            break;
        }
        if cell.interrupted() {
            match interrupted_at {
                None => {
                    process::signal_group(pid, process::Signal::SIGINT);
                    interrupted_at = Some(Instant::now());
                }
                Some(t) if t.elapsed() > Duration::from_secs(2) => {
                    process::signal_group(pid, process::Signal::SIGKILL);
                    if exited && t.elapsed() > Duration::from_secs(3) {
                        // Something outside the group still holds the pipes:
                        // stop waiting for it (its readers end with it).
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for reader in readers {
        let _ = reader.join();
    }
    Ok(())
}
