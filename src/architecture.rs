//! The crate's plan, held by a test: the modules stand on floors, and every `crate::` path in a
//! module's code (comments aside) points to a module on a lower floor, so that no two modules
//! import each other, directly or through others. A change that adds an upward import fails
//! here rather than growing a circle.

use std::collections::BTreeMap;
use std::path::Path;

/// The modules, lowest floor first, with the modules each may import. The command line (the
/// flags every front end shares) stands above all of them, and the front ends (the binary, the
/// Python package) above it.
const PLAN: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("interrupt", &["error"]),
    ("memory", &["error"]),
    ("rng", &[]),
    ("vmath", &["rng"]),
    ("loss", &[]),
    ("report", &["error", "interrupt"]),
    ("law", &["error", "loss", "memory", "rng", "vmath"]),
    ("data", &["error", "law", "memory"]),
    ("objective", &["law", "loss", "rng", "vmath"]),
    ("backend", &["error", "law", "loss", "objective", "rng"]),
    (
        "fit",
        &[
            "memory",
            "backend",
            "data",
            "error",
            "interrupt",
            "law",
            "loss",
            "objective",
            "rng",
            "vmath",
        ],
    ),
    ("mixture", &["backend", "data", "error", "fit", "law"]),
    ("backtest", &["backend", "data", "error", "fit", "law"]),
    ("simulate", &["memory", "error", "law", "rng"]),
    (
        "bootstrap",
        &[
            "memory",
            "backend",
            "data",
            "error",
            "fit",
            "interrupt",
            "law",
            "mixture",
            "report",
            "rng",
        ],
    ),
    (
        "interval",
        &[
            "backend",
            "backtest",
            "bootstrap",
            "data",
            "error",
            "fit",
            "law",
        ],
    ),
    (
        "throughput",
        &[
            "backend",
            "error",
            "law",
            "loss",
            "memory",
            "objective",
            "rng",
            "simulate",
        ],
    ),
    (
        "plot",
        &["bootstrap", "data", "error", "fit", "law", "mixture"],
    ),
    (
        "cli",
        &[
            "memory",
            "backend",
            "backtest",
            "bootstrap",
            "data",
            "error",
            "fit",
            "interrupt",
            "interval",
            "law",
            "loss",
            "mixture",
            "plot",
            "report",
            "simulate",
            "throughput",
        ],
    ),
];

/// The top-level modules a module's code names through `crate::` (in `use` lists too).
fn imports(module: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let dir = root.join(module);
    if dir.is_dir() {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
    } else {
        files.push(root.join(format!("{module}.rs")));
    }
    let mut found = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        found.extend(paths(&code));
    }
    let modules: Vec<&str> = PLAN.iter().map(|(m, _)| *m).collect();
    found
        .into_iter()
        .map(|m| match m.as_str() {
            // `crate::Error` and `crate::Result` are the error module's, re-exported.
            "Error" | "Result" => "error".to_string(),
            _ => m,
        })
        .filter(|m| modules.contains(&m.as_str()) && m != module)
        .collect()
}

/// The first segment of every `crate::` path in `code`, through `use` lists (`crate::{a, b::{c,
/// d}}`, across lines) as well as plain paths.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(list) => {
                // The list up to its matching brace; items are split at depth 0.
                let (mut depth, mut item) = (0, String::new());
                for c in list.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.push(first_segment(&item));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                out.push(first_segment(&item));
            }
            None => out.push(first_segment(rest)),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn every_import_points_down_a_floor() {
    let floor: BTreeMap<&str, usize> = PLAN.iter().enumerate().map(|(i, (m, _))| (*m, i)).collect();
    let mut wrong = Vec::new();
    for (module, allowed) in PLAN {
        for dep in imports(module) {
            if !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{module} imports {dep}"));
            }
        }
        for dep in *allowed {
            assert!(
                floor[dep] < floor[module],
                "the plan lets {module} import {dep}, which is not below it"
            );
        }
    }
    assert!(wrong.is_empty(), "imports outside the plan: {wrong:?}");
}

#[test]
fn the_plan_names_every_module_of_the_crate() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let planned: Vec<&str> = PLAN.iter().map(|(m, _)| *m).collect();
    for m in &declared {
        assert!(planned.contains(m), "module {m} is not in the plan");
    }
    assert_eq!(declared.len(), planned.len(), "{declared:?} vs {planned:?}");
}

/// The detector sees the imports it must: in plain paths and in use lists across lines, nested
/// ones too; and a module known to import others.
#[test]
fn imports_are_found_in_paths_and_use_lists() {
    let code = "use crate::{\n    a::X,\n    b::{c::Y, d},\n    e,\n};\nlet v = crate::f::g(crate::Error);";
    assert_eq!(paths(code), ["a", "b", "e", "f", "Error"]);
    let fit = imports("fit");
    for m in ["backend", "objective", "law", "data"] {
        assert!(fit.contains(&m.to_string()), "{fit:?}");
    }
    assert!(imports("error").is_empty());
}
