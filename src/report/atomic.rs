//! Output files are written whole or not at all, and never over a user's file unasked.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Fail early (before any long computation) if `path` exists and `force` is off.
pub fn check_writable(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        )));
    }
    Ok(())
}

/// Write `bytes` to a temporary file beside `path`, sync it, then rename it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    check_writable(path, force)?;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Write `bytes` to `out` atomically, or to standard output when no file was named.
pub fn emit(out: Option<&Path>, bytes: &[u8], force: bool) -> Result<()> {
    match out {
        Some(path) => write_atomic(path, bytes, force),
        None => std::io::stdout()
            .write_all(bytes)
            .map_err(|source| Error::Io {
                path: "<stdout>".into(),
                source,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_without_force_and_replaces_with_it() {
        let dir = std::env::temp_dir().join(format!("mixlaw-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("out.json");
        write_atomic(&p, b"one", false).unwrap();
        let e = write_atomic(&p, b"two", false).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
