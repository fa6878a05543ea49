//! Sizes checked against memory before any work: a run whose flags ask for more memory than the
//! machine has (`--starts 18446744073709551615`, `--replicates 1000000000`, `simulate
//! --mixtures 100000000000`) is a usage error that says how much it would need, not a capacity
//! panic or an abort after minutes of swapping.
//!
//! The estimates count what a run must hold at once (every start's optimiser state, every
//! record of a study, every row of a table), in 128-bit arithmetic so that no size overflows,
//! and compare it with the memory the system says is available (`MemAvailable` of
//! `/proc/meminfo`). Where that cannot be read (another system), only sizes beyond any machine
//! (2^48 bytes, 256 TiB) are refused. A table is held whole once read, so its reader counts the
//! memory its rows take as it reads them against half the same [`limit`] (`data/table.rs`).
//! Fit, study and law files are read whole too, by [`read_text`]: against the same half, and
//! refused at the first NUL byte, which no text holds (`predict /dev/zero t.csv` grew until the
//! kernel killed it).

use std::path::Path;

use crate::error::{Error, Location, Result};

/// The most a run may need where the available memory cannot be read.
const BEYOND_ANY_MACHINE: u128 = 1 << 48;

/// The memory available to this process, in bytes, if the system says.
pub fn available() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most a run may hold: the available memory, or where unknown a size beyond any machine.
pub fn limit() -> u128 {
    available().unwrap_or(BEYOND_ANY_MACHINE)
}

/// An error unless `bytes` fit in the available memory; `what` says what needs them and
/// `advice` which flag to lower, e.g. `("--starts 10000000", "use fewer starts")`.
pub fn check(what: &str, bytes: u128, advice: &str) -> Result<()> {
    let limit = limit();
    if bytes <= limit {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{what} needs about {} of memory, more than the {} available: {advice}",
        size(bytes),
        size(limit)
    )))
}

/// Bytes in words: `52.1 GB`.
pub fn size(bytes: u128) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Bytes one start of an `dim`-parameter optimisation holds with `memory` curvature pairs: its
/// iterate, gradient, trial point, direction and line-search copies, and the pairs.
pub fn per_start(dim: usize, memory: usize) -> u128 {
    let pairs = memory.clamp(1, (2 * dim).max(10)) as u128;
    let dim = dim as u128;
    8 * dim * (2 * pairs + 12) + 8 * pairs + 256
}

/// The text of the fit, study or law file at `path`, read whole but bounded: an error at the
/// first NUL byte (binary data, `/dev/zero`) or once it outgrows half the available memory (an
/// endless stream), as a table's reader does.
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let refused = |msg: String| Error::Data {
        at: Location {
            file: path.to_path_buf(),
            row: None,
            column: None,
        },
        msg,
    };
    let limit = limit() / 2;
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if chunk[..n].contains(&0) {
            return Err(refused("binary data (NUL bytes), not a text file".into()));
        }
        if (text.len() + n) as u128 > limit {
            return Err(refused(format!(
                "more than {} long, half the memory available: not a file mixlaw wrote",
                size(limit)
            )));
        }
        text.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(text).map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binary data is refused at its first NUL byte (`/dev/zero` never ends); text is read.
    #[cfg(unix)]
    #[test]
    fn text_files_are_read_bounded() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("/dev/zero: binary data (NUL bytes)"), "{e}");
        let p = std::env::temp_dir().join(format!("mixlaw-read-text-{}", std::process::id()));
        std::fs::write(&p, "{\"version\": 1}\n").unwrap();
        assert_eq!(read_text(&p).unwrap(), "{\"version\": 1}\n");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn sizes_beyond_memory_are_refused_and_named() {
        let e = check(
            "--starts 18446744073709551615",
            u64::MAX as u128 * per_start(11, 40),
            "use fewer starts",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--starts 18446744073709551615 needs about")
                && e.contains("use fewer starts"),
            "{e}"
        );
        check("a small fit", 1 << 20, "").unwrap();
        assert_eq!(size(52_100_000_000), "52.1 GB");
        assert_eq!(size(999), "999 bytes");
    }
}
