//! `mixlaw bench`: objective+gradient throughput of each backend, side by side in one run
//! ([`crate::throughput`] measures). GPU rows also give the kernel's own device time and the
//! throughput it implies (`kernel_seconds`, `kernel_pairs_per_second` in `--json`; absent on CPU
//! rows and "n/a" on adapters without timestamp queries), and with `--bandwidth GB/s` (the card's
//! memory bandwidth, e.g. 3350 for an H100 SXM) their fraction of the memory-bandwidth bound
//! (`of_bound`).

use clap::Args;

use crate::backend::Gpu;
use crate::law::registry;
use crate::report::TextTable;
use crate::throughput::{check_bandwidth, measure, Measurement};
use crate::Result;

#[derive(Args)]
pub struct BenchCmd {
    /// Batch sizes (parameter vectors per evaluation).
    #[arg(long, value_delimiter = ',', default_value = "1000,4000,16000,64000")]
    batches: Vec<usize>,
    /// Law to evaluate.
    #[arg(long, default_value = "additive")]
    law: String,
    /// Evaluations timed per batch size (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Skip the GPU even if an adapter exists.
    #[arg(long)]
    cpu_only: bool,
    /// The GPU's memory bandwidth in GB/s: states the bandwidth bound on kernel throughput and
    /// each GPU measurement's fraction of it.
    #[arg(long, value_name = "GB/S")]
    bandwidth: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(c: BenchCmd) -> Result<()> {
    let law = registry::lookup(&c.law)?;
    check_bandwidth(c.bandwidth)?;
    let gpu = if c.cpu_only {
        None
    } else {
        Gpu::new()
            .inspect_err(|e| errln!("note: no GPU measured: {e}"))
            .ok()
    };
    let found = measure(&law, &c.batches, c.reps, gpu.as_ref(), c.bandwidth)?;
    let out = &found.measurements;
    if c.json {
        super::print_json(out);
        return Ok(());
    }
    outln!(
        "{} law, k = {}, {} rows, {} parameters; median of {} evaluations\n",
        law.name(),
        found.k,
        found.rows,
        found.dim,
        c.reps.max(1)
    );
    if let (Some(gbs), Some(b)) = (c.bandwidth, found.bound) {
        outln!(
            "memory-bandwidth bound: {gbs} GB/s / {} bytes per pair (a row of {} floats and its \
             weight) = {b:.3e} pairs/s\n",
            found.bytes_per_pair,
            found.bytes_per_pair / 4 - 1
        );
    }
    let mut t = TextTable::new([
        "backend",
        "batch",
        "seconds",
        "pairs/s",
        "vs cpu",
        "kernel seconds",
        "kernel pairs/s",
        "of bound",
    ]);
    // Kernel columns: "-" on the CPU, "n/a" on a GPU without timestamp queries.
    let kernel_cell = |m: &Measurement, v: Option<f64>, fmt: fn(f64) -> String| match v {
        Some(v) => fmt(v),
        None if m.gpu => "n/a".to_string(),
        None => "-".to_string(),
    };
    for m in out {
        let cpu = out
            .iter()
            .find(|x| x.batch == m.batch)
            .map_or(f64::NAN, |x| x.pairs_per_second);
        t.row([
            m.backend.clone(),
            m.batch.to_string(),
            format!("{:.4}", m.seconds),
            format!("{:.3e}", m.pairs_per_second),
            format!("{:.2}", m.pairs_per_second / cpu),
            kernel_cell(m, m.kernel_seconds, |v| format!("{v:.4}")),
            kernel_cell(m, m.kernel_pairs_per_second, |v| format!("{v:.3e}")),
            m.of_bound
                .map_or("-".to_string(), |v| format!("{:.1} %", 100.0 * v)),
        ]);
    }
    out!("{}", t.render());
    if let Some(g) = &gpu {
        if g.kernel_time().is_some() {
            outln!(
                "\nkernel: device time of the objective kernel per evaluation, from the \
                 adapter's timestamp queries"
            );
        } else {
            outln!("\nkernel: n/a, no timestamp queries on this adapter");
        }
    }
    Ok(())
}
