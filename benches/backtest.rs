//! The backtest benchmark: the additive law on the whole SlimPajama table (every model size
//! from 122M to 3B, eight targets), rolled over model size (four steps: fit on the sizes up to
//! 310M, 680M, 937M and 1235M, predict the larger ones), with the law's default settings, on the
//! CPU. With `MIXLAW_BENCH_BACKENDS=1` the GPU runs the same backtest when wgpu finds an adapter
//! (on a CPU rasteriser such as lavapipe this measures nothing useful).
//!
//! Every step is an ordinary fit through the batched optimiser, so the time is four fits of the
//! growing tables; it prints the wall time per backend and per step.

use std::time::Instant;

use mixlaw::backend::{Backend, Cpu};
use mixlaw::data::{DataSpec, Table};
use mixlaw::fit::FitSettings;
use mixlaw::law::registry;

#[path = "../tests/suite/common/published.rs"]
#[allow(dead_code)]
mod published;

fn main() {
    let law = registry::by_name("additive").unwrap();
    let Some(path) = published::dataset(published::SLIMPAJAMA) else {
        return;
    };
    let table = Table::read(&path).unwrap();
    let ds = mixlaw::load(&table, &DataSpec::default().for_law(&law)).unwrap();
    let settings = FitSettings::defaults_for(&law);
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(Cpu)];
    if std::env::var("MIXLAW_BENCH_BACKENDS").is_ok_and(|v| v == "1") {
        match mixlaw::backend::Gpu::new() {
            Ok(gpu) => backends.push(Box::new(gpu)),
            Err(e) => println!("no GPU: {e}"),
        }
    }
    for backend in &backends {
        let t = Instant::now();
        let b = mixlaw::backtest::run(
            &table,
            &ds,
            &law,
            &settings,
            &mixlaw::backtest::Settings::default(),
            backend.as_ref(),
            &mut |_, _, _| {},
        )
        .unwrap();
        let wall = t.elapsed().as_secs_f64();
        let steps = b.targets[0].steps.len();
        let predictions: usize = b.targets.iter().map(|t| t.predictions().count()).sum();
        println!(
            "{}: {} targets × {steps} steps ({} rows, {predictions} held-out predictions) in \
             {wall:.1} s ({:.1} s per step)",
            backend.describe(),
            b.targets.len(),
            ds.rows(),
            wall / steps as f64
        );
    }
}
