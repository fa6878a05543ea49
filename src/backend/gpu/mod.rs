//! The GPU backend: the objective of [`Problem::eval`] as one wgpu compute shader, in f32.
//!
//! # Why it is shaped this way
//!
//! An L-BFGS round evaluates the same rows at a few thousand parameter vectors and nothing else
//! changes between rounds, so the expensive things are set up once and the per-round traffic is
//! as small as the interface allows:
//!
//! * **One owner of all GPU state.** [`Gpu`] holds the device, the queue and the compute
//!   pipelines (`shaders/objective.wgsl`: every law behind one `switch` on a uniform law id, so
//!   the residual, Huber and reduction code exist once). Nothing else in the crate sees wgpu.
//! * **The shader's laws come from the law registry.** Each registered law with a kernel names
//!   its WGSL function; the host appends the `predict` function that switches on the law ids to
//!   those functions (`shader.rs`), so the shader never lists laws itself.
//! * **Size classes, compiled on demand.** Each thread keeps the parameters, the row's gradient
//!   and the gradient sum in private arrays (and two per-domain ones), and WGSL needs their
//!   lengths at compile time (`MAXP`, `MAXK` in the shader). Larger arrays cost registers, or
//!   spill to slower memory, for every problem, so one size for the largest problem (389
//!   parameters: the full law at [`crate::law::MAX_DOMAINS`] = 64 domains) would slow the small
//!   ones down. Instead the source is compiled per *size class* `(MAXP, MAXK) = (72·2^a, 16·2^b)`,
//!   the smallest that holds the problem ([`size_class`]): at most four `MAXP`s and three
//!   `MAXK`s up to 64 domains. The default class (72, 16) is built when the device opens (so a
//!   shader that does not compile fails there, with naga's message); the others the first time
//!   a problem needs them ([`Gpu::check`]), and all are kept.
//! * **Data uploaded once per problem** (`resident.rs`). The rows (ln N, ln D, target, h, ln h)
//!   and the row weights (every weight set: one per bootstrap replicate) go to storage buffers
//!   the first time a [`Problem`] is evaluated, and stay cached under [`Problem::id`] with the
//!   uniforms, the θ, output and read-back buffers (grown to the largest batch seen, at most one
//!   dispatch) and the bind group. A few problems are kept (least recently used goes first), as a
//!   fit alternates a law and the laws nested in it.
//! * **Per round, only θ in and (f, g) out** (`submit.rs`): `batch × (dim + 1)` floats up (θ and
//!   the entry's weight set), `batch × (dim + 3)` down. One workgroup of 64 threads per batch
//!   entry; threads stride over the rows and the workgroup reduces in shared memory, so each
//!   entry is one contiguous record in the read-back.
//! * **Every row accounted for.** Mesa's software device (lavapipe, what CI tests on) silently
//!   ends every loop of a shader invocation after one iteration once the invocation has taken
//!   65,535 loop iterations (gallivm's guard against shaders that never end): on a table of
//!   100,000 rows the objective came back a fortieth of the truth. The kernel counts the rows
//!   it visited, the output is cleared before each dispatch, and a problem whose count falls
//!   short is evaluated on the CPU from then on, with a note on stderr.
//! * **f32 on the device, f64 around it** (`evaluate.rs`). Per-row work runs in f32 (what every
//!   adapter has). Work that is per entry runs on the host in f64: internal → natural
//!   coordinates (exp of the log coordinates, which is also where a value could overflow f32),
//!   the mean's `1/Σw`, the chain rule of log coordinates and "+∞ with zero gradient" for a
//!   non-finite residual. The log residual's `ln y` is taken on the host too. An entry whose
//!   natural parameters do not fit f32 is evaluated on the CPU path instead, so the backend never
//!   answers worse than `+∞`.
//! * **Batches larger than one dispatch** (65,535 workgroups per dimension, the storage-binding
//!   size) are split transparently into several dispatches.
//! * **Kernel time from timestamp queries, at no extra round trip.** Wall-clock time around
//!   [`Backend::evaluate`] includes the host work, the upload of θ, the submit and the wait, so
//!   on its own it cannot say how fast the shader is. Where the adapter has
//!   `TIMESTAMP_QUERY` (optional in WebGPU: not every adapter has it, and the device is opened
//!   with it only where it exists), each objective dispatch's compute pass writes a timestamp
//!   at its beginning and end; the same submit resolves them and copies them into the
//!   read-back buffer behind the output records, so they come back with the one mapping the
//!   results need. [`Gpu::kernel_time`] sums them (`None` without the feature);
//!   `mixlaw bench` reports them beside the wall clock.
//!
//! * **The mixture search's separable sweep runs here too** (`sweep.rs`, `shaders/sweep.wgsl`):
//!   pieces of the lattice of bounded work per invocation (and its loops counted, as the
//!   objective's rows are), top-K per weighting on the device, f32 candidates re-scored in f64
//!   by the caller.
//!
//! The rooms: `device.rs` (adapter discovery and the [`Gpu`] that owns the device), `shader.rs`
//! (the source, its size classes and compiled pipelines), `resident.rs` (a problem's buffers),
//! `submit.rs` (one dispatch: submit, read back, timestamps) and `evaluate.rs` (the [`Backend`]
//! implementation). Built without the `gpu` cargo feature, none of them is compiled and [`Gpu`]
//! is a stub whose [`Gpu::new`] says so (`stub.rs`): the API stays the same either way.
//!
//! The parity suite (`tests/suite/backend.rs`) holds the shader to [`Problem::eval`], with a
//! tolerance derived from f32 rounding.
//!
//! [`Problem::eval`]: crate::objective::Problem::eval
//! [`Problem::id`]: crate::objective::Problem::id
//! [`Problem`]: crate::objective::Problem
//! [`Backend::evaluate`]: super::Backend::evaluate
//! [`Backend`]: super::Backend

#[cfg(feature = "gpu")]
mod device;
#[cfg(feature = "gpu")]
mod evaluate;
#[cfg(feature = "gpu")]
mod resident;
#[cfg(feature = "gpu")]
mod shader;
#[cfg(not(feature = "gpu"))]
mod stub;
#[cfg(feature = "gpu")]
mod submit;
#[cfg(feature = "gpu")]
mod sweep;

#[cfg(feature = "gpu")]
pub use device::{devices, Gpu};
#[cfg(not(feature = "gpu"))]
pub use stub::{devices, Gpu};

/// Whether this mixlaw was built with the GPU backend (the `gpu` cargo feature).
pub const BUILT: bool = cfg!(feature = "gpu");

/// What `mixlaw devices` shows of an adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceInfo {
    /// The adapter's name.
    pub name: String,
    /// The graphics API wgpu reaches it through (Vulkan, Metal, Dx12).
    pub backend: String,
    /// Discrete, integrated, virtual or CPU.
    pub device_type: String,
    /// The driver and its version.
    pub driver: String,
    /// Whether shaders may use f64 (`SHADER_F64`); mixlaw's kernels use f32 either way.
    pub f64: bool,
    /// Whether the adapter has timestamp queries (`TIMESTAMP_QUERY`), which give
    /// [`Gpu::kernel_time`] and `mixlaw bench` the device time of each kernel.
    pub timestamps: bool,
    /// The largest storage-buffer binding, bytes.
    pub max_storage_buffer_binding_size: u64,
    /// The largest buffer, bytes.
    pub max_buffer_size: u64,
    /// Workgroups per dimension of one dispatch.
    pub max_compute_workgroups_per_dimension: u32,
    /// Threads per workgroup along x.
    pub max_compute_workgroup_size_x: u32,
    /// Whether `--backend auto` would take it (a real GPU, not a CPU rasteriser).
    pub auto: bool,
}

/// The size class `(MAXP, MAXK)` of the kernel that evaluates `dim` parameters over `k`
/// domains: the smallest `(72·2^a, 16·2^b)` with `MAXP ≥ dim` and `MAXK ≥ k` (see the module
/// docs).
pub fn size_class(dim: usize, k: usize) -> (usize, usize) {
    let (mut maxp, mut maxk) = BASE_CLASS;
    while maxp < dim {
        maxp *= 2;
    }
    while maxk < k {
        maxk *= 2;
    }
    (maxp, maxk)
}

/// The default (and smallest) size class: what the shader's source declares.
const BASE_CLASS: (usize, usize) = (72, 16);

/// Floats per row in the shader's row layout: ln N, ln D, target, h (k), ln h (k).
fn stride(k: usize) -> usize {
    3 + 2 * k
}

/// Bytes of device memory the objective kernel reads per (batch entry, row) pair over `k`
/// domains: the row's `3 + 2k` floats and its weight. Every workgroup reads every row once per
/// evaluation, so at a memory bandwidth of `B` bytes/s the kernel evaluates at most
/// `B / bytes_per_pair(k)` pairs per second if each read went to memory: the bound `mixlaw bench
/// --bandwidth` compares kernel throughput with. (A problem's rows, a few hundred kB, mostly stay
/// in the device's cache, so a kernel can beat it; θ in and results out add `(2·dim + 3)·4`
/// bytes per entry, nothing beside the rows.)
pub fn bytes_per_pair(k: usize) -> usize {
    (stride(k) + 1) * 4
}
