//! `expman kernel install`: the kernelspec Jupyter finds the kernel by
//! (`kernel.json` and logos in `<data dir>/kernels/expman/`).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::KernelError;

/// Where to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The user's Jupyter data directory: `$JUPYTER_DATA_DIR`, else
    /// `$XDG_DATA_HOME/jupyter` or `~/.local/share/jupyter`
    /// (`~/Library/Jupyter` on macOS).
    User,
    /// `sys.prefix` of the active Python environment (`$VIRTUAL_ENV`,
    /// `$CONDA_PREFIX`, else what `python3` says): `<prefix>/share/jupyter`.
    SysPrefix,
    /// `<prefix>/share/jupyter`.
    Prefix(PathBuf),
}

/// What was installed.
#[derive(Clone, Debug)]
pub struct Installed {
    /// The kernelspec directory.
    pub dir: PathBuf,
    /// Whether Jupyter looks there without help (else set `JUPYTER_PATH`).
    pub on_search_path: bool,
    /// The data directory to add to `JUPYTER_PATH` when it is not.
    pub data_dir: PathBuf,
}

/// The kernel's name (the directory under `kernels/`).
pub const KERNEL_NAME: &str = "expman";

const LOGO_32: &[u8] = include_bytes!("../assets/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../assets/logo-64x64.png");
const LOGO_SVG: &[u8] = include_bytes!("../assets/logo-svg.svg");

/// The Jupyter data directory of a location.
pub fn data_dir(location: &Location) -> Result<PathBuf, KernelError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = match location {
        Location::User => match var("JUPYTER_DATA_DIR") {
            Some(d) => d,
            None => user_data_dir().ok_or_else(|| {
                KernelError::Unsupported("no home directory: set JUPYTER_DATA_DIR or use --prefix".into())
            })?,
        },
        Location::SysPrefix => python_prefix()?.join("share").join("jupyter"),
        Location::Prefix(p) => p.join("share").join("jupyter"),
    };
    Ok(dir)
}

fn user_data_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)?;
    if cfg!(target_os = "macos") {
        return Some(home.join("Library").join("Jupyter"));
    }
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    Some(xdg.unwrap_or_else(|| home.join(".local").join("share")).join("jupyter"))
}

fn python_prefix() -> Result<PathBuf, KernelError> {
    for name in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(p) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(p));
        }
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let out = expman_os::process::tool("python3", &["-c", "import sys; print(sys.prefix)"], &cwd)
        .output()
        .map_err(|e| KernelError::Unsupported(format!("--sys-prefix needs python3 to find sys.prefix: {e}")))?;
    let prefix = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || prefix.is_empty() {
        return Err(KernelError::Unsupported("python3 did not say its sys.prefix".into()));
    }
    Ok(PathBuf::from(prefix))
}

/// Directories Jupyter searches for kernelspecs, in its order (data
/// directory, `JUPYTER_PATH`, the active environment, system paths).
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = data_dir(&Location::User) {
        dirs.push(d);
    }
    if let Some(path) = std::env::var_os("JUPYTER_PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    for name in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(p) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            dirs.push(PathBuf::from(p).join("share").join("jupyter"));
        }
    }
    dirs.push(PathBuf::from("/usr/local/share/jupyter"));
    dirs.push(PathBuf::from("/usr/share/jupyter"));
    dirs
}

/// The `kernel.json` for `executable`.
pub fn kernel_json(executable: &Path) -> serde_json::Value {
    json!({
        "argv": [executable.to_string_lossy(), "kernel", "start", "-f", "{connection_file}"],
        "display_name": "expman",
        "language": crate::info::LANGUAGE,
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    })
}

/// Writes the kernelspec for `executable` (the expman binary) at `location`.
pub fn install(location: &Location, executable: &Path) -> Result<Installed, KernelError> {
    let data_dir = data_dir(location)?;
    let dir = data_dir.join("kernels").join(KERNEL_NAME);
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).map_err(|source| KernelError::Install { path: dir.join(name), source })
    };
    std::fs::create_dir_all(&dir).map_err(|source| KernelError::Install { path: dir.clone(), source })?;
    let spec = serde_json::to_string_pretty(&kernel_json(executable)).unwrap_or_default();
    write("kernel.json", format!("{spec}\n").as_bytes())?;
    write("logo-32x32.png", LOGO_32)?;
    write("logo-64x64.png", LOGO_64)?;
    write("logo-svg.svg", LOGO_SVG)?;
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let on_search_path = search_path().iter().any(|d| canonical(d) == canonical(&data_dir));
    Ok(Installed { dir, on_search_path, data_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_json_runs_this_binary_with_message_interrupts() {
        let spec = kernel_json(Path::new("/opt/expman/bin/expman"));
        assert_eq!(spec["argv"], json!(["/opt/expman/bin/expman", "kernel", "start", "-f", "{connection_file}"]));
        assert_eq!(spec["interrupt_mode"], "message");
        assert_eq!(spec["language"], "expman");
    }

    #[test]
    fn installs_under_a_prefix() {
        let root = std::env::temp_dir().join(format!("expman-kernelspec-{}", std::process::id()));
        let installed = install(&Location::Prefix(root.clone()), Path::new("/usr/bin/expman")).unwrap();
        assert_eq!(installed.dir, root.join("share/jupyter/kernels/expman"));
        for file in ["kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg"] {
            assert!(installed.dir.join(file).is_file(), "{file}");
        }
        let _ = std::fs::remove_dir_all(root);
    }
}
