//! What each fuzz target does with its input: hand the bytes to one of mixlaw's readers through
//! its public entry point, and, when the reader accepts them, use the result the way a command
//! would, so that a reader that lets through something the rest of mixlaw cannot handle is found
//! as a panic too. A reader may reject anything (an `Err` is the right answer to garbage); it may
//! never panic, hang or abort.
//!
//! The integration suite includes this very file (`tests/suite/fuzz.rs`, through `#[path]`) and
//! replays every input of `fuzz/seeds/` and `fuzz/regressions/` (and of a local `fuzz/corpus/`,
//! when there is one) through it on stable Rust, so CI checks them without nightly or libFuzzer. It therefore uses nothing but `mixlaw`.

use std::path::Path;

use mixlaw::bootstrap::{Study, StudyFile};
use mixlaw::data::{expr, DataSpec, Table};
use mixlaw::fit::FitFile;
use mixlaw::law::{formula, registry, Point};

/// The bundled example table (`data/example.csv`): the table `--where` expressions run against.
const EXAMPLE: &[u8] = include_bytes!("../../data/example.csv");

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// The names of the targets, each a function of this module and a folder of `fuzz/seeds/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("table", table),
    ("where_expr", where_expr),
    ("fit_file", fit_file),
    ("study_file", study_file),
    ("formula", formula),
    ("law_file", law_file),
];

/// The CSV table reader (`Table::parse`, as `Table::read` reads a file), then the table loaded
/// as the chinchilla law and a mixture law would load it (every cell that is used is parsed and
/// validated there).
pub fn table(data: &[u8]) {
    let Ok(table) = Table::parse(data, Path::new("fuzz.csv")) else {
        return;
    };
    for law in ["chinchilla", "additive"] {
        let law = registry::lookup(law).expect("a built-in law");
        let _ = mixlaw::load(&table, &DataSpec::default().for_law(&law));
    }
}

/// The `--where` parser (`expr::parse`), then the expression applied to the example table.
pub fn where_expr(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if expr::parse(text).is_err() {
        return;
    }
    let table = Table::parse(EXAMPLE, Path::new("example.csv")).expect("the example table");
    let law = registry::lookup("additive").expect("a built-in law");
    let spec = DataSpec {
        filters: vec![text.to_string()],
        ..DataSpec::default().for_law(&law)
    };
    let _ = mixlaw::load(&table, &spec);
}

/// The fit-file reader (`FitFile::parse`), then what `predict` and `optimize` take from an
/// accepted file: each group's fit and each target's parameter vector.
pub fn fit_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((file, law)) = FitFile::parse(text, Path::new("fuzz.json")) else {
        return;
    };
    for group in file.groups() {
        let _ = file.select_group(Some(group));
    }
    for t in 0..file.targets.len() {
        let _ = file.param_vector(&law, t);
    }
}

/// The study-file reader (`StudyFile::parse`), then the summary a resumed or merged study
/// reports.
pub fn study_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = StudyFile::parse(text, Path::new("fuzz.jsonl")) else {
        return;
    };
    let study = Study {
        header: file.header,
        records: file.records,
    };
    let _ = study.summarise(0.95, &[]);
}

/// The formula parser and compiler (`--formula`: `formula::file::inline`), then the law and its
/// gradient evaluated at one point of three domains from a start of its own.
pub fn formula(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((law, _)) = formula::file::inline(text, &[]) {
        evaluate(&law);
    }
}

/// The law-file reader (`formula::file::from_toml`), then the law evaluated as for [`formula`].
pub fn law_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(law) = formula::file::from_toml(text, Path::new("fuzz.toml")) {
        evaluate(&law);
    }
}

/// The law's value, gradient and mixture gradient at one point of three domains.
fn evaluate(law: &mixlaw::law::Law) {
    let h = [0.5, 0.3, 0.2];
    let p = law.sample_start(h.len(), &mut mixlaw::rng::Rng::new(1, 0));
    let mut grad = vec![0.0; p.len()];
    let x = Point::new(100.0, 10.0, &h);
    let _ = law.eval(&p, &x, Some(&mut grad));
    let mut dh = [0.0; 3];
    law.grad_h(&p, &x, &mut dh);
}
