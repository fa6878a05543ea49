//! `mixlaw devices`: the GPU adapters wgpu can see (honouring `WGPU_BACKEND`), and which one
//! `--backend auto` would take.

use clap::Args;

use crate::report::TextTable;
use crate::Result;

#[derive(Args)]
pub struct DevicesCmd {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(c: DevicesCmd) -> Result<()> {
    let devices = crate::backend::gpu::devices();
    if c.json {
        super::print_json(&devices);
        return Ok(());
    }
    if !crate::backend::gpu::BUILT {
        outln!(
            "this mixlaw was built without GPU support (the `gpu` cargo feature); it uses the CPU"
        );
        return Ok(());
    }
    if devices.is_empty() {
        outln!("no GPU adapters found (WGPU_BACKEND selects backends); mixlaw will use the CPU");
        return Ok(());
    }
    let mut t = TextTable::new([
        "adapter",
        "backend",
        "type",
        "f64",
        "timestamps",
        "max binding (MiB)",
        "max workgroups/dim",
        "auto",
    ]);
    for d in &devices {
        t.row([
            d.name.clone(),
            d.backend.clone(),
            d.device_type.clone(),
            if d.f64 { "yes" } else { "no" }.to_string(),
            if d.timestamps { "yes" } else { "no" }.to_string(),
            (d.max_storage_buffer_binding_size >> 20).to_string(),
            d.max_compute_workgroups_per_dimension.to_string(),
            if d.auto { "yes" } else { "no (CPU rasteriser)" }.to_string(),
        ]);
    }
    out!("{}", t.render());
    Ok(())
}
