//! The crate's plan, held by a test: the modules stand on floors, and every `crate::` path in a
//! module's code (comments aside) points to a module on a lower floor, so that no two modules
//! import each other, directly or through others. A change that adds an upward import fails
//! here rather than growing a circle.

use std::collections::BTreeMap;
use std::path::Path;

/// The modules, lowest floor first, with the modules each may import. The front ends (the
/// binary, a Python package) stand above all of them.
const PLAN: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("rng", &[]),
    ("vmath", &["rng"]),
    ("loss", &[]),
    ("report", &["error"]),
    ("law", &["error", "loss", "rng", "vmath"]),
    ("data", &["error", "law"]),
    ("objective", &["law", "loss", "rng", "vmath"]),
    ("backend", &["error", "law", "loss", "objective", "rng"]),
    (
        "fit",
        &[
            "backend",
            "data",
            "error",
            "law",
            "loss",
            "objective",
            "rng",
            "vmath",
        ],
    ),
    ("mixture", &["backend", "data", "error", "fit", "law"]),
    ("simulate", &["error", "law", "rng"]),
    (
        "bootstrap",
        &[
            "backend", "data", "error", "fit", "law", "mixture", "report", "rng",
        ],
    ),
    (
        "throughput",
        &[
            "backend",
            "error",
            "law",
            "loss",
            "objective",
            "rng",
            "simulate",
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
        for line in text.lines() {
            let code = line.split("//").next().unwrap();
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                if let Some(brace) = rest.strip_prefix('{') {
                    // `crate::{a, b::c}`: the first segment of each item.
                    let list = brace.split('}').next().unwrap();
                    for item in list.split(',') {
                        found.insert(item.trim().split("::").next().unwrap().to_string());
                    }
                } else {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    found.insert(name);
                }
            }
        }
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

/// The detector sees the imports it must: a module known to import others.
#[test]
fn imports_are_found_in_paths_and_use_lists() {
    let fit = imports("fit");
    for m in ["backend", "objective", "law", "data"] {
        assert!(fit.contains(&m.to_string()), "{fit:?}");
    }
    assert!(imports("error").is_empty());
}
