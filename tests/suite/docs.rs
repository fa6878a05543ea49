//! The documentation runs: every code block of README.md and of every other Markdown file in
//! the repository is executed or checked, every relative link resolves, and the flag reference
//! is the clap definitions.
//!
//! A block's info string says what it is (CONTRIBUTING.md, "Documentation"):
//!
//! * `sh`: run by `bash -euo pipefail`, exit status 0, output not checked;
//! * `console`: a transcript: each `$ ` line (with `\` continuation lines) is a command, the
//!   lines up to the next `$ ` its expected standard output, compared line by line with trailing
//!   whitespace ignored and a line `...` matching any number of lines; a command that exits
//!   non-zero must show an expected text starting with `error:`, compared with its standard
//!   error (an error example);
//! * `toml` whose first line is `# file: NAME`: written to the scratch directory as NAME;
//! * `python`: run by pytest (`python/tests/test_docs.py`); `rust`: a rustdoc doctest (the file
//!   is included in `src/lib.rs`);
//! * a second word `no-run` (`sh no-run`): shown, not run; anything else (`text`, `json`, ...)
//!   is shown.
//!
//! The blocks of one file run in order in one scratch directory holding copies of `data/`,
//! `laws/` and `examples/`, with the `mixlaw` under test first on `PATH`. A file whose blocks
//! name a published table under `data/` that has not been fetched (`bash data/fetch.sh`) is
//! skipped with a message, or fails under `MIXLAW_REQUIRE_DATASETS=1`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// At most this many blocks in all the documentation may be `no-run`.
const MAX_NO_RUN: usize = 24;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every Markdown file of the repository, relative to its root, sorted: README.md and the
/// files under the folders people read (build outputs and the fuzz corpus left out).
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                if name.starts_with('.')
                    || ["target", "corpus", "artifacts", "node_modules"].contains(&name.as_str())
                {
                    continue;
                }
                walk(&path, &rel.join(&name), out);
            } else if name.ends_with(".md") {
                out.push(rel.join(&name));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), Path::new(""), &mut out);
    out.sort();
    out
}

/// A fenced code block: its language, its other info words, its text and its first line.
#[derive(Debug)]
struct Block {
    lang: String,
    words: Vec<String>,
    text: String,
    line: usize,
}

impl Block {
    fn no_run(&self) -> bool {
        self.words.iter().any(|w| w == "no-run")
    }
}

/// The fenced blocks of a Markdown text (``` or ~~~ fences, indented ones in lists too).
fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let Some(fence) = ["```", "~~~"].into_iter().find(|f| t.starts_with(f)) else {
            continue;
        };
        let ticks = t.len() - t.trim_start_matches(fence.chars().next().unwrap()).len();
        let info = t[ticks..].trim();
        let mut words = info.split_whitespace().map(str::to_string);
        let lang = words.next().unwrap_or_default();
        let mut text = String::new();
        for (_, l) in lines.by_ref() {
            let lt = l.trim_start();
            let marker = &fence[..1];
            if lt.starts_with(&marker.repeat(ticks))
                && lt.trim_start_matches(marker).trim().is_empty()
            {
                break;
            }
            let cut = l.len() - l.trim_start().len();
            text.push_str(&l[cut.min(indent)..]);
            text.push('\n');
        }
        out.push(Block {
            lang,
            words: words.collect(),
            text,
            line: i + 1,
        });
    }
    out
}

/// Blocks whose text is run (or written) by this test or by pytest.
fn runnable(b: &Block) -> bool {
    !b.no_run() && matches!(b.lang.as_str(), "sh" | "console" | "python" | "toml")
}

/// Paths under `data/` that the runnable blocks name but the checkout lacks (published tables
/// not fetched).
fn missing_tables(blocks: &[Block]) -> BTreeSet<String> {
    let mut missing = BTreeSet::new();
    for b in blocks.iter().filter(|b| runnable(b)) {
        let mut rest = b.text.as_str();
        while let Some(at) = rest.find("data/") {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
                .unwrap_or(tail.len());
            let path = tail[..end].trim_end_matches(['.', '/']);
            rest = &tail[end..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_./-".contains(c)) {
                continue;
            }
            if path.len() > "data/".len() && !root().join(path).exists() {
                missing.insert(path.to_string());
            }
        }
    }
    missing
}

fn require_datasets() -> bool {
    std::env::var("MIXLAW_REQUIRE_DATASETS").is_ok_and(|v| v == "1")
}

/// Copy a folder of the repository into the scratch directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A scratch directory for one Markdown file's blocks.
fn scratch(name: &str) -> TempDir {
    let dir = temp_dir(&format!("docs-{}", name.replace(['/', '.'], "-")));
    for sub in ["data", "laws", "examples"] {
        copy_dir(&root().join(sub), &dir.join(sub));
    }
    dir
}

/// `bash -euo pipefail -c script` in `dir` with the binary under test first on PATH.
fn bash(dir: &Path, script: &str) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_mixlaw")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("bash runs")
}

/// Whether `actual` matches `expected` line by line (trailing whitespace ignored; a line `...`
/// matches any number of lines).
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| a.trim_end() == e.trim_end() && matches(rest, arest)),
    }
}

/// A console block's commands and their expected outputs.
fn transcript(text: &str) -> Vec<(String, Vec<&str>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        if continuing {
            let cmd = &mut out.last_mut().unwrap().0;
            cmd.push('\n');
            cmd.push_str(line);
            continuing = line.trim_end().ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_string(), Vec::new()));
            continuing = cmd.trim_end().ends_with('\\');
        } else if let Some((_, expected)) = out.last_mut() {
            expected.push(line);
        }
    }
    for (_, expected) in &mut out {
        while expected.last().is_some_and(|l| l.trim().is_empty()) {
            expected.pop();
        }
    }
    out
}

/// Run one file's shell, transcript and file blocks; the failures, each with its file and line.
fn run_file(rel: &Path, blocks: &[Block]) -> Vec<String> {
    let name = rel.display().to_string();
    let dir = scratch(&name);
    let mut failures = Vec::new();
    let here = |b: &Block| format!("{name}:{}", b.line);
    for b in blocks.iter().filter(|b| !b.no_run()) {
        match b.lang.as_str() {
            "toml" => {
                if let Some(file) = b
                    .text
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("# file: "))
                {
                    std::fs::write(dir.join(file.trim()), &b.text).unwrap();
                }
            }
            "sh" => {
                let out = bash(&dir, &b.text);
                if !out.status.success() {
                    failures.push(format!(
                        "{}: the sh block failed ({:?}):\n{}\n{}",
                        here(b),
                        out.status.code(),
                        b.text,
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            "console" => {
                for (cmd, expected) in transcript(&b.text) {
                    let out = bash(&dir, &cmd);
                    let error_example = expected.first().is_some_and(|l| l.starts_with("error:"));
                    let (stream, ok) = if out.status.success() {
                        (out.stdout, !error_example)
                    } else {
                        (out.stderr, error_example)
                    };
                    let actual = String::from_utf8_lossy(&stream).into_owned();
                    let lines: Vec<&str> = actual.lines().collect();
                    if !ok || !matches(&expected, &lines) {
                        failures.push(format!(
                            "{}: `{cmd}` (exit {:?}) printed\n{actual}\nwhere the transcript shows\n{}",
                            here(b),
                            out.status.code(),
                            expected.join("\n")
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    failures
}

#[test]
fn every_shell_and_console_block_of_the_docs_runs() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for rel in markdown_files() {
        let md = std::fs::read_to_string(root().join(&rel)).unwrap();
        let blocks = blocks(&md);
        if !blocks
            .iter()
            .any(|b| runnable(b) && matches!(b.lang.as_str(), "sh" | "console"))
        {
            continue;
        }
        let missing = missing_tables(&blocks);
        if !missing.is_empty() {
            assert!(
                !require_datasets(),
                "{}: needs {missing:?} (MIXLAW_REQUIRE_DATASETS=1): run bash data/fetch.sh",
                rel.display()
            );
            eprintln!(
                "skipping the blocks of {}: {missing:?} not fetched (bash data/fetch.sh)",
                rel.display()
            );
            continue;
        }
        failures.extend(run_file(&rel, &blocks));
        ran += 1;
    }
    assert!(ran > 0, "no documentation file was run");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_block_says_what_it_is_and_few_do_not_run() {
    let mut untagged = Vec::new();
    let mut no_run = Vec::new();
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut rust_files_missing = Vec::new();
    for rel in markdown_files() {
        let md = std::fs::read_to_string(root().join(&rel)).unwrap();
        for b in blocks(&md) {
            let at = format!("{}:{}", rel.display(), b.line);
            if b.lang.is_empty() {
                untagged.push(at);
            } else if b.no_run() {
                no_run.push(at);
            } else if b.lang == "rust" {
                let include = format!("include_str!(\"../{}\")", rel.display());
                if !lib.contains(&include) && !rust_files_missing.contains(&include) {
                    rust_files_missing.push(include);
                }
            }
        }
    }
    assert!(
        untagged.is_empty(),
        "blocks without an info string (rustdoc would compile them as Rust): {untagged:#?}"
    );
    assert!(
        rust_files_missing.is_empty(),
        "files with rust blocks that src/lib.rs does not include as doctests: {rust_files_missing:#?}"
    );
    assert!(
        no_run.len() <= MAX_NO_RUN,
        "{} no-run blocks (at most {MAX_NO_RUN}): {no_run:#?}",
        no_run.len()
    );
}

/// GitHub's anchor of a heading: lower case, punctuation other than `-` and `_` removed,
/// spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings (duplicates numbered as GitHub numbers them).
fn anchors(md: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut fenced = false;
    for line in md.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || !t.starts_with('#') {
            continue;
        }
        let text = t.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let base = slug(text);
        let mut s = base.clone();
        let mut n = 0;
        while seen.contains(&s) {
            n += 1;
            s = format!("{base}-{n}");
        }
        seen.insert(s);
    }
    seen
}

/// The link targets of a Markdown text outside code: `[text](target)`, `![alt](target)` and
/// `[label]: target`, with their lines.
fn links(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in md.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Inline code holds no links.
        let mut plain = String::new();
        for (k, part) in line.split('`').enumerate() {
            if k % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let Some(end) = tail.find(')') else { break };
            let target = tail[..end].split_whitespace().next().unwrap_or("");
            out.push((i + 1, target.to_string()));
            rest = &tail[end..];
        }
        if let Some(def) = t.strip_prefix('[') {
            if let Some((_, target)) = def.split_once("]: ") {
                out.push((i + 1, target.trim().to_string()));
            }
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for rel in markdown_files() {
        let md = std::fs::read_to_string(root().join(&rel)).unwrap();
        for (line, target) in links(&md) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                root().join(&rel)
            } else {
                root().join(rel.parent().unwrap()).join(file)
            };
            if !path.exists() {
                broken.push(format!("{}:{line}: {target}: no such file", rel.display()));
                continue;
            }
            if !anchor.is_empty() {
                let ok = path.extension().is_some_and(|e| e == "md")
                    && anchors(&std::fs::read_to_string(&path).unwrap()).contains(anchor);
                if !ok {
                    broken.push(format!(
                        "{}:{line}: {target}: no such heading",
                        rel.display()
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no relative link was found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_flag_reference_is_the_clap_definitions() {
    let path = root().join("docs/reference/flags.md");
    let rendered = mixlaw::cli::reference::markdown();
    if std::env::var("MIXLAW_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/reference/flags.md differs from the clap definitions in src/cli/: \
         MIXLAW_BLESS=1 cargo test --test suite docs:: rewrites it"
    );
}

#[test]
fn the_block_reader_reads_fences_transcripts_and_wildcards() {
    let md =
        "# T\n\n```sh no-run\nsbatch x\n```\n\n  ```console\n  $ echo a \\\n  b\n  a b\n  ```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 2);
    assert!(b[0].no_run() && b[0].lang == "sh");
    let t = transcript(&b[1].text);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].0, "echo a \\\nb");
    assert_eq!(t[0].1, vec!["a b"]);
    assert!(matches(&["x", "...", "z"], &["x", "y", "y", "z"]));
    assert!(!matches(&["x", "z"], &["x", "y", "z"]));
    assert_eq!(
        slug("`mixlaw fit`: the (first) step"),
        "mixlaw-fit-the-first-step"
    );
}
