//! Output files are written whole or not at all, and never over a user's file unasked.
//!
//! A file is written to a temporary file beside it, created exclusively under a random name (the
//! `tempfile` crate: a name planted in advance, a symlink among them, is never followed), synced,
//! then published: without `--force` by a no-clobber link, so two runs racing for one name cannot
//! both succeed; with `--force` by a rename over the old file, whose permissions it keeps. A new
//! file gets the mode any new file gets (0666 less the umask, what a shell's `>` gives it), not
//! the temporary's private 0600, which left results unreadable to the group sharing them. A
//! symbolic link is followed to the file it names (which is replaced; the link stays) and a
//! dangling one refused; a device or a FIFO (`/dev/stdout`, a pipe) is written into, never
//! replaced by a regular file.
//!
//! A writer killed between creating its temporary file and publishing it (`kill -9`, a node
//! lost under a Slurm task) leaves the temporary behind, and nothing else would ever remove it.
//! So a writer holds an exclusive lock (`flock`) on its temporary from the moment it creates it,
//! and the next write of the same file removes every `.NAME.*.tmp` beside it that it can lock:
//! the kernel drops a dead process's locks, so those are exactly the orphans, while a live
//! writer's temporary stays locked and is left alone. (A writer racing this sweep in the
//! microseconds between creating its temporary and locking it can lose it and fail with an I/O
//! error; it never publishes a wrong file.)
//!
//! Two runs writing one output with `--force` need no lock: each publishes a whole file by a
//! rename, and the later one replaces the earlier, as if they had run one after the other;
//! nothing is ever written in place, so nothing interleaves. A bootstrap study file is the
//! exception, written in place (appended) for as long as the study runs: its run holds the
//! file's lock throughout ([`write_atomic_locked`], `bootstrap/study.rs`). So a file is replaced
//! only under its lock, taken before the check up front ([`check_writable`]) and again for the
//! rename: a study being written (or any file whose lock another process holds) is refused, by
//! `fit --out`, `merge --out` or anything else with `--force`, never renamed over. The study's
//! own run, which replaces its file under the lock it holds, says so (`held`).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Fail early (before any long computation) if `path` exists and `force` is off, is a directory,
/// or is a dangling symbolic link; a device or a FIFO is never "existing" (it is written into).
pub fn check_writable(path: &Path, force: bool) -> Result<()> {
    let Target::File(file) = target(path, force)? else {
        return Ok(());
    };
    drop(lock_replaced(&file, path, &[])?);
    // The directory must take a new file (the temporary one beside the output): a missing or
    // read-only directory is found now, not after the computation.
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    tempfile::Builder::new()
        .prefix(".mixlaw-probe.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// An error if `out` is the same file as one of `inputs` (compared by device and inode, so a
/// link or another spelling of the path is caught): `fit t.csv --out t.csv --force` would
/// replace the table it reads. Inputs that do not exist are no concern of this check.
pub fn check_not_input(out: &Path, inputs: &[&Path]) -> Result<()> {
    for input in inputs {
        if same_file(out, input) {
            return Err(Error::usage(format!(
                "--out {} is the input {}: write the output elsewhere",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Whether `a` and `b` name one existing regular file.
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.is_file() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `a` and `b` name one existing regular file.
#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y && std::fs::metadata(&x).is_ok_and(|m| m.is_file()),
        _ => false,
    }
}

/// Where the bytes for `path` go.
enum Target {
    /// A regular file (new, or replaced with `force`), at this path (a link's target resolved).
    File(PathBuf),
    /// A device or a FIFO, written into.
    Special,
}

fn target(path: &Path, force: bool) -> Result<Target> {
    // `out/` names a directory whether or not one exists: the file would be `out`, and writing
    // it failed (not a directory) only after the computation.
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(Error::usage(format!(
            "{} names a directory (it ends in '/'); name the file to write",
            path.display()
        )));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::File(path.into())),
        Err(source) => {
            return Err(Error::Io {
                path: path.into(),
                source,
            })
        }
    };
    if meta.file_type().is_symlink() {
        return match std::fs::canonicalize(path) {
            Ok(resolved) => target(&resolved, force),
            // A link the kernel follows to no path: `/dev/stdout` (`/proc/self/fd/1`) when
            // standard output is a pipe (`pipe:[…]`). What it reaches is written into.
            Err(_) if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
                Ok(Target::Special)
            }
            Err(_) => Err(Error::usage(format!(
                "{} is a symbolic link to nothing; name the file to write",
                path.display()
            ))),
        };
    }
    if meta.is_dir() {
        return Err(Error::usage(format!("{} is a directory", path.display())));
    }
    if !meta.is_file() {
        return Ok(Target::Special);
    }
    if !force {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to overwrite it",
            path.display()
        )));
    }
    Ok(Target::File(path.into()))
}

/// The lock of the existing file `file` (at `path` as the user named it), which is about to be
/// replaced: `None` where there is no file, where it is one of `held` (its lock is the caller's),
/// or where it can be opened neither to read nor to write (replacing it needs only the
/// directory's permission, as ever); an error where another process holds it.
fn lock_replaced(
    file: &Path,
    path: &Path,
    held: &[std::fs::File],
) -> Result<Option<std::fs::File>> {
    if held.iter().any(|h| is_at(h, file)) {
        return Ok(None);
    }
    let opened =
        std::fs::File::open(file).or_else(|_| std::fs::OpenOptions::new().write(true).open(file));
    let Ok(old) = opened else {
        return Ok(None);
    };
    match old.try_lock() {
        Ok(()) => Ok(Some(old)),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(path)),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// The error for a file whose lock another run holds.
pub fn busy(path: &Path) -> Error {
    Error::usage(format!(
        "{} is being written by another run (it holds the file's lock); wait for it, or choose \
         another --out",
        path.display()
    ))
}

/// Whether the open `file` is the file at `path` (by device and inode).
#[cfg(unix)]
pub fn is_at(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether the open `file` is the file at `path`: elsewhere a file open here cannot be renamed
/// over, so it still is.
#[cfg(not(unix))]
pub fn is_at(_file: &std::fs::File, _path: &Path) -> bool {
    true
}

/// Write `bytes` to `path`: through a temporary file beside it, published whole (see the module
/// documentation); an existing file only with `force`, and never one another run holds.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    write_atomic_locked(path, bytes, force, &[]).map(drop)
}

/// [`write_atomic`], returning the published file still open and under the writer's lock, which
/// it has held since the temporary file was created: whoever holds the returned file holds the
/// lock of the file now at `path`, from the very moment it is there. A study's run keeps it, so
/// that a second run finds the study file locked whichever version of it is at the path (a
/// rename publishes a new file, and a lock on the old one says nothing about it). `None` where
/// `path` is a device or a FIFO (written into, nothing published). `held`: files whose locks the
/// caller holds, which it may replace (a study's run, publishing over its own file).
pub fn write_atomic_locked(
    path: &Path,
    bytes: &[u8],
    force: bool,
    held: &[std::fs::File],
) -> Result<Option<std::fs::File>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match target(path, force)? {
        Target::Special => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            return f
                .write_all(bytes)
                .and_then(|_| f.flush())
                .map(|_| None)
                .map_err(io);
        }
        Target::File(file) => file,
    };
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file name", path.display())))?;
    let prefix = temporary_prefix(&name.to_string_lossy());
    remove_orphans(dir, &prefix);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Given to open(2), which takes the umask off.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.as_file().try_lock().map_err(|e| io(e.into()))?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    // Asked to stop while writing: the temporary file goes (when `tmp` drops), nothing is
    // published.
    crate::interrupt::check()?;
    if force {
        // Held across the rename: a run that locks the old file meanwhile finds it taken, and
        // one that locks it after finds another file at the path (`bootstrap/study.rs`).
        let _old = lock_replaced(&file, path, held)?;
        if let Ok(old) = std::fs::metadata(&file) {
            tmp.as_file()
                .set_permissions(old.permissions())
                .map_err(io)?;
        }
        tmp.persist(&file).map(Some).map_err(|e| io(e.error))
    } else {
        tmp.persist_noclobber(&file).map(Some).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::usage(format!(
                    "{} already exists (written meanwhile); pass --force to overwrite it",
                    path.display()
                ))
            } else {
                io(e.error)
            }
        })
    }
}

/// The start of the temporary files' names for an output called `name`: `.NAME.`, with `NAME`
/// cut to its first [`PREFIX_NAME_BYTES`] bytes. A whole long name (a legal 250 bytes) made the
/// temporary's name, 12 bytes longer, too long for the file system, and the write failed after
/// the computation. (Outputs whose names share that start share the prefix, and each removes
/// the other's orphans: dead temporaries either way.)
fn temporary_prefix(name: &str) -> String {
    let mut end = name.len().min(PREFIX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.", &name[..end])
}

/// How much of an output's name its temporaries' names hold: with the dots, the random part and
/// `.tmp`, well under the 255 bytes most file systems allow a name.
const PREFIX_NAME_BYTES: usize = 200;

/// Remove the temporary files `prefix*.tmp` in `dir` that no live writer holds (see the module
/// documentation). Best effort: a file that cannot be opened, locked or removed is left.
fn remove_orphans(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Write `bytes` to `out` atomically, or to standard output when no file was named.
pub fn emit(out: Option<&Path>, bytes: &[u8], force: bool) -> Result<()> {
    match out {
        Some(path) => write_atomic(path, bytes, force),
        // A closed pipe (`| head`) is a reader that has read enough, not an error.
        None => match std::io::stdout()
            .write_all(bytes)
            .and_then(|_| std::io::stdout().flush())
        {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.map_err(|source| Error::Io {
                path: "<stdout>".into(),
                source,
            }),
        },
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

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mixlaw-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A new file has the mode of any new file (the umask's), not the temporary's 0600.
    #[cfg(unix)]
    #[test]
    fn a_new_file_gets_the_mode_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir("mode");
        let plain = d.join("plain");
        std::fs::write(&plain, b"x").unwrap();
        write_atomic(&d.join("out.json"), b"x", false).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d.join("out.json")), mode(&plain));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A name nearly as long as the file system allows is written: its temporary's name is cut
    /// (here inside a character, which the cut avoids).
    #[test]
    fn a_long_name_is_written() {
        let d = dir("long");
        let p = d.join(format!("a{}.json", "é".repeat(124)));
        assert_eq!(p.file_name().unwrap().len(), 254);
        write_atomic(&p, b"whole", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Of writers racing for one new name without --force, exactly one wins; nothing is left.
    #[test]
    fn racing_writers_cannot_both_publish() {
        let d = dir("race");
        let p = d.join("out.json");
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let p = &p;
                    s.spawn(move || write_atomic(p, &[b'0' + i; 4096], false).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap() as usize)
                .sum()
        });
        assert_eq!(wins, 1);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A dead writer's temporary (unlocked) is removed by the next write of the same file; a
    /// live writer's (locked) and another file's are left alone.
    #[test]
    fn orphaned_temporaries_are_removed_and_live_ones_kept() {
        let d = dir("orphans");
        let orphan = d.join(".out.json.dead.tmp");
        let live = d.join(".out.json.live.tmp");
        let other = d.join(".other.json.dead.tmp");
        for f in [&orphan, &live, &other] {
            std::fs::write(f, b"partial").unwrap();
        }
        let held = std::fs::File::open(&live).unwrap();
        held.lock().unwrap();
        write_atomic(&d.join("out.json"), b"whole", false).unwrap();
        assert!(!orphan.exists(), "the orphan is removed");
        assert!(live.exists(), "a locked temporary belongs to a live writer");
        assert!(
            other.exists(),
            "another file's temporary is not this write's business"
        );
        drop(held);
        write_atomic(&d.join("out.json"), b"again", true).unwrap();
        assert!(!live.exists(), "unlocked, it is an orphan too");
        assert_eq!(std::fs::read(d.join("out.json")).unwrap(), b"again");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A file whose lock another writer holds (a study being written) is never replaced, nor
    /// passed up front; its holder may replace it, and anyone may once the lock is let go.
    #[test]
    fn a_file_another_writer_holds_is_not_replaced() {
        let d = dir("held");
        let p = d.join("study.jsonl");
        std::fs::write(&p, b"being written").unwrap();
        let holder = std::fs::File::open(&p).unwrap();
        holder.lock().unwrap();
        for e in [
            write_atomic(&p, b"other", true).unwrap_err(),
            check_writable(&p, true).unwrap_err(),
        ] {
            assert!(
                e.to_string().contains("being written by another run"),
                "{e}"
            );
        }
        assert_eq!(std::fs::read(&p).unwrap(), b"being written");
        let published = write_atomic_locked(&p, b"its own", true, &[holder]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"its own");
        let e = write_atomic(&p, b"other", true).unwrap_err();
        assert!(
            e.to_string().contains("being written"),
            "the published file is held: {e}"
        );
        drop(published);
        write_atomic(&p, b"after", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"after");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A link is followed to its file (the link stays), a dangling link refused; a device is
    /// written into, not replaced; a replaced file keeps its permissions.
    #[test]
    fn links_devices_and_permissions() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let d = dir("links");
        let real = d.join("real.json");
        let link = d.join("link.json");
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink(&real, &link).unwrap();
        assert!(write_atomic(&link, b"new", false)
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        write_atomic(&link, b"new", true).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let dangling = d.join("dangling.json");
        symlink(d.join("nowhere"), &dangling).unwrap();
        let e = write_atomic(&dangling, b"x", true).unwrap_err();
        assert!(e.to_string().contains("symbolic link to nothing"), "{e}");
        assert!(!d.join("nowhere").exists());
        write_atomic(Path::new("/dev/null"), b"into the device", false).unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        let e = write_atomic(&d, b"x", true).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        // A name ending in '/' is a directory's, found up front whether or not it exists.
        for slashed in [d.join("new/"), d.join("real.json/")] {
            let e = check_writable(&slashed, true).unwrap_err();
            assert!(e.to_string().contains("names a directory"), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
