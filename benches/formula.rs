//! Formula laws against the hand-written laws they restate, side by side in one run.
//!
//! `cargo bench --bench formula` times:
//! * parsing and compiling every law file of `laws/` (the median of 20 compiles each);
//! * the additive law with 1,000 random starts on the paper's c4 train split, on the CPU backend,
//!   built-in and `laws/additive.toml` alternately (three fits each), and prints the ratio of the
//!   medians;
//! * objective+gradient throughput of both on every backend wgpu finds (the generated shader
//!   against the hand-written one; kernel time where the adapter has timestamp queries, else
//!   the wall clock), and prints the ratios.
//!
//! Machines are shared and noisy: compare only numbers from one run.

use std::path::Path;
use std::time::Instant;

use mixlaw::backend::{Cpu, Gpu};
use mixlaw::fit::FitSettings;
use mixlaw::law::{formula, registry, Law};

#[path = "../tests/suite/common/published.rs"]
#[allow(dead_code)]
mod published;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("laws");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    println!("compile (parse, graph, derivatives, CPU programs, WGSL), median of 20:");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let times: Vec<f64> = (0..20)
            .map(|_| {
                let t = Instant::now();
                formula::file::from_toml(&text, f).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect();
        println!(
            "  {:<28} {:.3} ms",
            f.file_name().unwrap().to_string_lossy(),
            1e3 * median(times)
        );
    }

    let builtin = registry::by_name("additive").unwrap();
    let file = formula::file::load(&dir.join("additive.toml")).unwrap();
    let Some(train) = published::slimpajama_train("c4_loss") else {
        return;
    };
    let mut settings = FitSettings::defaults_for(&builtin);
    settings.starts = 1000;
    let fit = |law: &Law| {
        let t = Instant::now();
        let fit = mixlaw::fit::fit(&train, law, &settings, &Cpu, &[], &mut |_, _, _| {}).unwrap();
        (t.elapsed().as_secs_f64(), fit.targets[0].objective)
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (t, fa) = fit(&builtin);
        a.push(t);
        let (t, fb) = fit(&file);
        b.push(t);
        println!("  additive 1000 starts: built-in {t_a:.2} s ({fa:.10e}), law file {t:.2} s ({fb:.10e})", t_a = a[a.len() - 1]);
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "additive 1000-start fit (c4, {} rows, CPU): built-in {ma:.2} s, laws/additive.toml {mb:.2} s: the formula takes {:.2}x the built-in's time",
        train.rows(),
        mb / ma
    );

    let gpu = Gpu::new().ok();
    match &gpu {
        Some(g) => println!("GPU: {}", mixlaw::backend::Backend::describe(g)),
        None => println!("GPU: none found (CPU throughput only)"),
    }
    for law in ["additive", "full"] {
        let builtin = registry::by_name(law).unwrap();
        let file = formula::file::load(&dir.join(format!("{law}.toml"))).unwrap();
        let m1 = mixlaw::throughput::measure(&builtin, &[1024], 5, gpu.as_ref(), None).unwrap();
        let m2 = mixlaw::throughput::measure(&file, &[1024], 5, gpu.as_ref(), None).unwrap();
        for (x, y) in m1.measurements.iter().zip(&m2.measurements) {
            let rate = |m: &mixlaw::throughput::Measurement| {
                m.kernel_pairs_per_second.unwrap_or(m.pairs_per_second)
            };
            let how = if x.kernel_pairs_per_second.is_some() {
                "kernel"
            } else {
                "wall"
            };
            println!(
                "  {law} throughput on {} ({how}): built-in {:.3e}, formula {:.3e} pairs/s: formula/built-in {:.2}",
                x.backend,
                rate(x),
                rate(y),
                rate(y) / rate(x)
            );
        }
    }
}
