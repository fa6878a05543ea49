//! The GPU backend: the objective of [`Problem::eval`] as one wgpu compute shader, in f32.
//!
//! # Why it is shaped this way
//!
//! An L-BFGS round evaluates the same rows at a few thousand parameter vectors and nothing else
//! changes between rounds, so the expensive things are set up once and the per-round traffic is
//! as small as the interface allows:
//!
//! * **One owner of all GPU state.** [`Gpu`] holds the device, the queue and the compute
//!   pipelines (`shaders/objective.wgsl`, every law behind one `switch` on a uniform law id, so
//!   the residual, Huber and reduction code exist once). Nothing else in the crate sees wgpu.
//! * **Size classes, compiled on demand.** Each thread keeps the parameters, the row's gradient
//!   and the gradient sum in private arrays (and two per-domain ones), and WGSL needs their
//!   lengths at compile time (`MAXP`, `MAXK` in the shader). Larger arrays cost registers, or
//!   spill to slower memory, for every problem, so one size for the largest problem (389
//!   parameters: the full law at [`crate::law::MAX_DOMAINS`] = 64 domains) would slow the small
//!   ones down. Instead the source is compiled per *size class* `(MAXP, MAXK) = (72·2^a, 16·2^b)`,
//!   the smallest that holds the problem ([`Gpu::size_class`]): at most four `MAXP`s and three
//!   `MAXK`s up to 64 domains. The default class (72, 16) is built when the device opens (so a
//!   shader that does not compile fails there, with naga's message); the others the first time
//!   a problem needs them ([`Gpu::check`]), and all are kept.
//! * **Data uploaded once per problem.** The rows (ln N, ln D, target, h, ln h) and the row
//!   weights (every weight set: one per bootstrap replicate) go to storage buffers the first time
//!   a [`Problem`] is evaluated, and stay cached under [`Problem::id`] with the uniform, the θ,
//!   output and read-back buffers (grown to the largest
//!   batch seen, at most one dispatch) and the bind group. A few problems are kept (least
//!   recently used goes first), as a fit alternates a law and the laws nested in it.
//! * **Per round, only θ in and (f, g) out**: `batch × (dim + 1)` floats up (θ and the entry's
//!   weight set), `batch × (dim + 2)` down.
//!   One workgroup of 64 threads per batch entry; threads stride over the rows and the workgroup
//!   reduces in shared memory, so each entry is one contiguous record in the read-back.
//! * **f32 on the device, f64 around it.** Per-row work runs in f32 (what every adapter has). Work
//!   that is per entry runs on the host in f64: internal → natural coordinates (exp of the log
//!   coordinates, which is also where a value could overflow f32), the mean's `1/Σw`, the chain
//!   rule of log coordinates and "+∞ with zero gradient" for a non-finite residual. The log
//!   residual's `ln y` is taken on the host too. An entry whose natural parameters do not fit
//!   f32 is evaluated on the CPU path instead, so the backend never answers worse than `+∞`.
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
//! The parity suite in `tests/backend.rs` holds the shader to [`Problem::eval`], with a tolerance
//! derived from f32 rounding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytemuck::{Pod, Zeroable};

use super::Backend;
use crate::fit::{Problem, Residual};
use crate::law::Law;
use crate::Error;

/// The kernel's source, compiled once per size class with `MAXP` and `MAXK` substituted.
const SHADER: &str = include_str!("../../../shaders/objective.wgsl");
/// The default (and smallest) size class: what the shader's source declares.
const BASE_CLASS: Class = Class { maxp: 72, maxk: 16 };
/// Problems whose buffers are kept on the device.
const CACHED_PROBLEMS: usize = 4;

/// The laws the shader implements, by the id it switches on.
const LAWS: [&str; 7] = [
    "chinchilla",
    "additive",
    "joint",
    "simple",
    "full",
    "datamix",
    "linear",
];

/// The uniform block of the shader (`Params`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Params {
    n_rows: u32,
    k: u32,
    dim: u32,
    law: u32,
    residual: u32,
    stride: u32,
    delta: f32,
    inv_delta: f32,
    /// `predict_mixtures` only: parameter vectors in `theta`.
    targets: u32,
    pad: [u32; 3],
}

/// A size class of the kernel: the lengths of its private arrays, `MAXP` (parameters) and
/// `MAXK` (domains).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Class {
    maxp: usize,
    maxk: usize,
}

impl Class {
    /// The smallest class `(72·2^a, 16·2^b)` that holds `dim` parameters over `k` domains.
    fn of(dim: usize, k: usize) -> Class {
        let mut class = BASE_CLASS;
        while class.maxp < dim {
            class.maxp *= 2;
        }
        while class.maxk < k {
            class.maxk *= 2;
        }
        class
    }

    /// The shader's line declaring `MAXP`, for `maxp`.
    fn maxp_line(maxp: usize) -> String {
        format!("const MAXP: u32 = {maxp}u;")
    }

    /// The shader's line declaring `MAXK`, for `maxk`.
    fn maxk_line(maxk: usize) -> String {
        format!("const MAXK: u32 = {maxk}u;")
    }

    /// The shader's source for this class.
    fn source(self) -> Result<String, Error> {
        self.substitute(SHADER)
    }

    /// `shader` with the default class's `MAXP` and `MAXK` lines (whole lines, trailing
    /// whitespace aside), which must each occur exactly once, replaced by this class's.
    fn substitute(self, shader: &str) -> Result<String, Error> {
        let lines = [
            (
                Class::maxp_line(BASE_CLASS.maxp),
                Class::maxp_line(self.maxp),
            ),
            (
                Class::maxk_line(BASE_CLASS.maxk),
                Class::maxk_line(self.maxk),
            ),
        ];
        let mut found = [0; 2];
        let mut src = String::with_capacity(shader.len() + 8);
        for line in shader.split_inclusive('\n') {
            let body = line.trim_end();
            match lines.iter().position(|(from, _)| body == from) {
                Some(i) => {
                    found[i] += 1;
                    src.push_str(&lines[i].1);
                    src.push_str(&line[body.len()..]);
                }
                None => src.push_str(line),
            }
        }
        for ((from, _), n) in lines.iter().zip(found) {
            if n != 1 {
                return Err(Error::Gpu(format!(
                    "shaders/objective.wgsl must have the line '{from}' exactly once, not {n} \
                     times (the size classes substitute that line)"
                )));
            }
        }
        Ok(src)
    }
}

/// The compiled kernel of one size class: both entry points. A bind group for one must be made
/// from that same pipeline's layout (automatic layouts differ between pipelines).
struct Pipelines {
    /// `main`: the objective and its gradient.
    objective: wgpu::ComputePipeline,
    /// `predict_mixtures`: every target's prediction at every candidate mixture.
    mixtures: wgpu::ComputePipeline,
}

/// A size class's pipelines, or why they did not compile.
type Built = Result<Arc<Pipelines>, String>;

/// Compiles `class`'s pipelines, catching shader and pipeline errors in an error scope (rather
/// than reaching wgpu's default handler, which panics) and returning them with naga's message.
fn build(
    device: &wgpu::Device,
    info: &wgpu::AdapterInfo,
    class: Class,
) -> Result<Pipelines, Error> {
    let source = class.source()?;
    // Every kind of error is caught: naga's validation errors, and a driver's failure to
    // compile the pipeline (internal) or to find memory for it.
    let scopes = [
        wgpu::ErrorFilter::Validation,
        wgpu::ErrorFilter::Internal,
        wgpu::ErrorFilter::OutOfMemory,
    ]
    .map(|filter| device.push_error_scope(filter));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("objective.wgsl"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = |label: &str, entry: &str| {
        device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        })
    };
    let objective = pipeline("objective", "main");
    let mixtures = pipeline("predict_mixtures", "predict_mixtures");
    // Popped innermost first, as scopes nest.
    let mut errors = Vec::new();
    for scope in scopes.into_iter().rev() {
        errors.extend(pollster::block_on(scope.pop()));
    }
    if let Some(e) = errors.pop() {
        let class = if class == BASE_CLASS {
            String::new()
        } else {
            format!(" (size class MAXP = {}, MAXK = {})", class.maxp, class.maxk)
        };
        return Err(Error::Gpu(format!(
            "shaders/objective.wgsl{class} does not compile on {}: {e}",
            info.name
        )));
    }
    Ok(Pipelines {
        objective,
        mixtures,
    })
}

/// Device buffers for one problem: its uniform and rows, uploaded once, and the per-batch
/// buffers, sized for the largest batch seen so far (one dispatch at most).
struct Resident {
    id: u64,
    dim: usize,
    /// The problem's size class's pipelines (its bind group is made from their layout).
    pipelines: Arc<Pipelines>,
    params: wgpu::Buffer,
    rows: wgpu::Buffer,
    weights: wgpu::Buffer,
    io: Option<Io>,
}

/// θ in, records out, and the bind group tying them to the problem's rows.
struct Io {
    /// Entries these buffers hold.
    capacity: usize,
    theta: wgpu::Buffer,
    out: wgpu::Buffer,
    /// The output records, then (with `timer`) the pass's two timestamps at
    /// [`stamps_at`]`(records' bytes)`.
    readback: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    /// `None` where the device has no timestamp queries.
    timer: Option<Timer>,
}

/// Where a dispatch's compute pass writes its beginning and end timestamps, and the buffer
/// they are resolved into (and copied on from, into the read-back buffer).
struct Timer {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
}

/// Bytes of a pass's two resolved timestamps (`u64` ticks each).
const STAMP_BYTES: u64 = 2 * wgpu::QUERY_SIZE as u64;

/// Offset of the timestamps in a read-back buffer whose records take `bytes`: the next multiple
/// of 8, so that they are whole `u64`s.
fn stamps_at(bytes: u64) -> u64 {
    bytes.next_multiple_of(8)
}

/// A wgpu device running `shaders/objective.wgsl`.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// The size classes built so far (the default one from the start), in build order.
    /// Failed builds are kept too (with their error), so that a class that does not compile is
    /// not compiled again on every call that needs it.
    pipelines: Mutex<Vec<(Class, Built)>>,
    info: wgpu::AdapterInfo,
    /// Entries per dispatch at most (device limits, or lower for tests).
    split: usize,
    max_binding: u64,
    /// Most recently used last.
    cache: Mutex<Vec<Resident>>,
    /// Nanoseconds per timestamp tick; `None` where the device has no timestamp queries.
    tick_ns: Option<f64>,
    /// Kernel time of the objective dispatches since the device opened or
    /// [`Gpu::reset_kernel_time`], in nanoseconds.
    kernel_ns: AtomicU64,
}

/// What `mixlaw devices` shows of an adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceInfo {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// Whether shaders may use f64 (`SHADER_F64`); mixlaw's kernels use f32 either way.
    pub f64: bool,
    /// Whether the adapter has timestamp queries (`TIMESTAMP_QUERY`), which give
    /// [`Gpu::kernel_time`] and `mixlaw bench` the device time of each kernel.
    pub timestamps: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_workgroup_size_x: u32,
    /// Whether `--backend auto` would take it (a real GPU, not a CPU rasteriser).
    pub auto: bool,
}

/// Every adapter of the backends `WGPU_BACKEND` allows.
pub fn devices() -> Vec<DeviceInfo> {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
    let backends = desc.backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .map(|a| {
            let (info, limits) = (a.get_info(), a.limits());
            DeviceInfo {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                f64: a.features().contains(wgpu::Features::SHADER_F64),
                timestamps: a.features().contains(wgpu::Features::TIMESTAMP_QUERY),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_workgroup_size_x: limits.max_compute_workgroup_size_x,
                auto: info.device_type != wgpu::DeviceType::Cpu,
            }
        })
        .collect()
}

impl Gpu {
    /// Whether this is a real GPU rather than a CPU rasteriser such as Mesa's lavapipe
    /// (`--backend auto` only takes real ones: on a CPU the f64 CPU backend is faster).
    pub fn is_real_gpu(&self) -> bool {
        self.info.device_type != wgpu::DeviceType::Cpu
    }

    /// Opens the first adapter of the backends `WGPU_BACKEND` names (all by default; for example
    /// `WGPU_BACKEND=vulkan`), preferring a high-performance one (`WGPU_POWER_PREF` overrides).
    pub fn new() -> Result<Gpu, Error> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::all();
        let desc = desc.with_env();
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env()
                .unwrap_or(wgpu::PowerPreference::HighPerformance),
            ..Default::default()
        };
        let adapter = pollster::block_on(instance.request_adapter(&options)).map_err(|e| {
            Error::Gpu(format!(
                "no GPU adapter found for backends {backends:?} ({e}); \
                 install a Vulkan, Metal or DX12 driver, set WGPU_BACKEND, or use the CPU backend"
            ))
        })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let required_limits = wgpu::Limits {
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            ..wgpu::Limits::downlevel_defaults()
        };
        // Timestamp queries only where the adapter has them: asking for a missing feature
        // would fail the device, and the kernels do not need them.
        let required_features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("mixlaw"),
            required_features,
            required_limits: required_limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("GPU adapter {}: no device: {e}", info.name)))?;
        let tick_ns = Some(queue.get_timestamp_period() as f64)
            .filter(|&p| device.features().contains(wgpu::Features::TIMESTAMP_QUERY) && p > 0.0);
        // The default size class now: a shader that does not compile fails here, with naga's
        // message.
        let base = Arc::new(build(&device, &info, BASE_CLASS)?);
        let max_binding = required_limits
            .max_storage_buffer_binding_size
            .min(required_limits.max_buffer_size);
        Ok(Gpu {
            device,
            queue,
            pipelines: Mutex::new(vec![(BASE_CLASS, Ok(base))]),
            info,
            split: required_limits.max_compute_workgroups_per_dimension as usize,
            max_binding,
            cache: Mutex::new(Vec::new()),
            tick_ns,
            kernel_ns: AtomicU64::new(0),
        })
    }

    /// Device time the objective kernel took (from the beginning to the end of each dispatch's
    /// compute pass, by timestamp queries), summed over every [`Backend::evaluate`] since the
    /// device was opened or [`Gpu::reset_kernel_time`]; the mixture-search kernel is not
    /// counted. `None` where the adapter has no timestamp queries.
    ///
    /// Evaluations running at once on the same `Gpu` all add to the one total.
    pub fn kernel_time(&self) -> Option<Duration> {
        self.tick_ns
            .map(|_| Duration::from_nanos(self.kernel_ns.load(Ordering::Relaxed)))
    }

    /// Sets the total of [`Gpu::kernel_time`] back to zero.
    pub fn reset_kernel_time(&self) {
        self.kernel_ns.store(0, Ordering::Relaxed);
    }

    /// Lowers the most batch entries one dispatch takes (for tests of the splitting; the device
    /// limit stays the upper bound).
    pub fn with_split(mut self, entries: usize) -> Gpu {
        self.split = self.split.min(entries.max(1));
        self.cache.get_mut().unwrap().clear();
        self
    }

    /// Whether the shader implements `law` (for any number of domains up to
    /// [`crate::law::MAX_DOMAINS`]; the device limits are [`Gpu::check`]'s).
    pub fn supports(law: &dyn Law) -> bool {
        law_id(law).is_some()
    }

    /// The size class `(MAXP, MAXK)` of the kernel that evaluates `dim` parameters over `k`
    /// domains: the smallest `(72·2^a, 16·2^b)` with `MAXP ≥ dim` and `MAXK ≥ k`.
    pub fn size_class(dim: usize, k: usize) -> (usize, usize) {
        let class = Class::of(dim, k);
        (class.maxp, class.maxk)
    }

    /// The size classes `(MAXP, MAXK)` whose pipelines this device has built, in the order they
    /// were built: the default (72, 16) first, then each the first time a problem needed it.
    pub fn size_classes(&self) -> Vec<(usize, usize)> {
        let built = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        built
            .iter()
            .filter(|(_, p)| p.is_ok())
            .map(|(c, _)| (c.maxp, c.maxk))
            .collect()
    }

    /// The pipelines of `class`, built (and kept) if this is the first time it is needed.
    fn pipelines(&self, class: Class) -> Result<Arc<Pipelines>, Error> {
        // Built under the lock: two threads needing a new class compile it once.
        let mut built = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = built.iter().find(|(c, _)| *c == class) {
            return p.clone().map_err(Error::Gpu);
        }
        let p = build(&self.device, &self.info, class).map(Arc::new);
        let kept = p.as_ref().map(Arc::clone).map_err(|e| match e {
            Error::Gpu(msg) => msg.clone(),
            other => other.to_string(),
        });
        built.push((class, kept));
        p
    }

    /// Whether this device can evaluate `problem`: a supported law, at most
    /// [`crate::law::MAX_DOMAINS`] domains, a size class whose pipelines compile (built here if
    /// this is the first problem of its class, so that a compile failure is a clear error
    /// before a fit starts), rows and weight sets that each fit one storage binding, and
    /// weight-set indices that an f32 holds exactly.
    pub fn check(&self, problem: &Problem) -> Result<(), Error> {
        self.prepare(problem).map(|_| ())
    }

    /// [`Gpu::check`], returning the problem's size class's pipelines.
    fn prepare(&self, problem: &Problem) -> Result<Arc<Pipelines>, Error> {
        let law = problem.law.name();
        if law_id(problem.law).is_none() {
            return Err(Error::Gpu(format!(
                "the GPU backend does not implement law '{law}' (it has {})",
                LAWS.join(", ")
            )));
        }
        let (dim, k) = (problem.dim(), problem.rows.k);
        let most = crate::law::MAX_DOMAINS;
        if k > most {
            return Err(Error::Gpu(format!(
                "law '{law}' has {k} domains; mixlaw handles at most {most}"
            )));
        }
        let rows = (problem.rows.len() * stride(k) * 4) as u64;
        let weights = (problem.weights.len() * 4) as u64;
        for (what, bytes) in [("rows", rows), ("weight sets", weights)] {
            if bytes > self.max_binding {
                return Err(Error::Gpu(format!(
                    "the problem's {what} take {bytes} bytes on the GPU, more than the device's \
                     largest storage binding ({} bytes); use fewer rows or replicates per run \
                     (--shard) or the CPU backend",
                    self.max_binding
                )));
            }
        }
        if problem.sets() > 1 << 24 {
            return Err(Error::Gpu(format!(
                "the GPU backend takes at most 2^24 weight sets per problem, not {}",
                problem.sets()
            )));
        }
        self.pipelines(Class::of(dim, k))
    }

    /// Entries one dispatch takes for a problem of `dim` parameters.
    fn chunk(&self, dim: usize) -> usize {
        let per_entry = (4 * (dim + 2)) as u64;
        self.split
            .min((self.max_binding / per_entry) as usize)
            .max(1)
    }

    /// The problem's buffers, uploaded if absent, as the last (most recent) cache entry.
    fn resident<'c>(
        &self,
        cache: &'c mut Vec<Resident>,
        problem: &Problem,
        pipelines: &Arc<Pipelines>,
    ) -> &'c mut Resident {
        if let Some(i) = cache.iter().position(|r| r.id == problem.id) {
            let r = cache.remove(i);
            cache.push(r);
        } else {
            if cache.len() >= CACHED_PROBLEMS {
                cache.remove(0);
            }
            cache.push(self.upload(problem, Arc::clone(pipelines)));
        }
        cache.last_mut().unwrap()
    }

    fn upload(&self, problem: &Problem, pipelines: Arc<Pipelines>) -> Resident {
        let rows = &problem.rows;
        let (k, dim) = (rows.k, problem.dim());
        let stride = stride(k);
        let mut data = Vec::with_capacity(rows.len() * stride);
        for j in 0..rows.len() {
            let y = rows.y[j];
            let target = match problem.residual {
                Residual::Raw => y,
                Residual::Log => y.ln(),
            };
            data.extend([rows.ln_n[j], rows.ln_d[j], target].map(|v| v as f32));
            data.extend(rows.h[j * k..(j + 1) * k].iter().map(|&v| v as f32));
            data.extend(rows.ln_h[j * k..(j + 1) * k].iter().map(|&v| v as f32));
        }
        let params = Params {
            n_rows: rows.len() as u32,
            k: k as u32,
            dim: dim as u32,
            law: law_id(problem.law).expect("checked") as u32,
            residual: match problem.residual {
                Residual::Raw => 0,
                Residual::Log => 1,
            },
            stride: stride as u32,
            delta: problem.delta as f32,
            inv_delta: (1.0 / problem.delta) as f32,
            targets: 0,
            pad: [0; 3],
        };
        let params_buf = self.upload_uniform("params", &params);
        let weights: Vec<f32> = problem.weights.iter().map(|&w| w as f32).collect();
        Resident {
            id: problem.id,
            dim,
            pipelines,
            params: params_buf,
            rows: self.upload_storage("rows", &data),
            weights: self.upload_storage("weights", &weights),
            io: None,
        }
    }

    /// Per-batch buffers for `n` entries (at most one dispatch), grown (to the next power of two,
    /// capped at one dispatch) when `n` exceeds what they hold.
    fn io<'r>(&self, r: &'r mut Resident, n: usize) -> &'r Io {
        let dim = r.dim;
        if r.io.as_ref().is_some_and(|io| io.capacity >= n) {
            return r.io.as_ref().unwrap();
        }
        let capacity = n.next_power_of_two().min(self.chunk(dim)).max(n);
        let theta = self.buffer(
            "theta",
            (capacity * (dim + 1) * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let out_bytes = (capacity * (dim + 2) * 4) as u64;
        let timed = self.tick_ns.is_some();
        let (out, readback) = self.output("out", out_bytes, timed);
        let bind_group = self.bind(
            &r.pipelines.objective,
            &[&r.params, &r.rows, &theta, &out, &r.weights],
        );
        let timer = timed.then(|| Timer {
            queries: self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("objective timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolved: self.buffer(
                "resolved timestamps",
                STAMP_BYTES,
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
        });
        r.io.insert(Io {
            capacity,
            theta,
            out,
            readback,
            bind_group,
            timer,
        })
    }

    /// Every target's prediction (natural parameters `params`, one vector per target) at each
    /// candidate mixture of `hs` (`k` wide), at `ln N`, `ln D` in fit units, into `out`
    /// (candidate-major). One upload, one dispatch (2-D past 65,535 workgroups), one read-back.
    #[allow(clippy::too_many_arguments)]
    fn mixtures_dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        law: &dyn Law,
        params: &[Vec<f64>],
        ln_n: f64,
        ln_d: f64,
        hs: &[f64],
        k: usize,
        out: &mut [f64],
    ) {
        let (targets, dim) = (params.len(), params[0].len());
        let n = hs.len() / k.max(1);
        let mut rows = Vec::with_capacity(n * stride(k));
        for h in hs.chunks(k.max(1)).take(n) {
            rows.extend([ln_n as f32, ln_d as f32, 0.0]);
            rows.extend(h.iter().map(|&v| v as f32));
            rows.extend(h.iter().map(|&v| crate::law::ln_weight(v) as f32));
        }
        let theta: Vec<f32> = params.iter().flatten().map(|&v| v as f32).collect();
        let uniform = Params {
            n_rows: n as u32,
            k: k as u32,
            dim: dim as u32,
            law: law_id(law).expect("checked") as u32,
            residual: 0,
            stride: stride(k) as u32,
            delta: 1.0,
            inv_delta: 1.0,
            targets: targets as u32,
            pad: [0; 3],
        };
        let params_buf = self.upload_uniform("mixture params", &uniform);
        let rows_buf = self.upload_storage("candidates", &rows);
        let theta_buf = self.upload_storage("target params", &theta);
        let bytes = (n * targets * 4) as u64;
        let (out_buf, readback) = self.output("predictions", bytes, false);
        let bind_group = self.bind(pipeline, &[&params_buf, &rows_buf, &theta_buf, &out_buf]);
        let groups = (n * targets).div_ceil(64);
        let x = groups.min(self.split.max(1));
        let raw = self.run(
            pipeline,
            &bind_group,
            (x, groups.div_ceil(x)),
            &out_buf,
            &readback,
            bytes,
            None,
        );
        for (o, v) in out.iter_mut().zip(raw) {
            *o = v as f64;
        }
    }

    /// A bind group of the bindings an entry point uses, in order (`main` uses all five,
    /// `predict_mixtures` the first four).
    fn bind(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// One submit: dispatch `groups` workgroups of `pipeline`, copy the first `bytes` of `out`
    /// to `readback`, wait, and return them. With a `timer`, the pass also writes its beginning
    /// and end timestamps, which come back in the same read-back (at [`stamps_at`]`(bytes)`) and
    /// are added to [`Gpu::kernel_time`].
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        groups: (usize, usize),
        out: &wgpu::Buffer,
        readback: &wgpu::Buffer,
        bytes: u64,
        timer: Option<&Timer>,
    ) -> Vec<f32> {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: timer.map(|t| wgpu::ComputePassTimestampWrites {
                    query_set: &t.queries,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(groups.0 as u32, groups.1 as u32, 1);
        }
        encoder.copy_buffer_to_buffer(out, 0, readback, 0, bytes);
        let mut mapped = bytes;
        if let Some(t) = timer {
            encoder.resolve_query_set(&t.queries, 0..2, &t.resolved, 0);
            encoder.copy_buffer_to_buffer(&t.resolved, 0, readback, stamps_at(bytes), STAMP_BYTES);
            mapped = stamps_at(bytes) + STAMP_BYTES;
        }
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = mpsc::channel();
        readback.map_async(wgpu::MapMode::Read, 0..mapped, move |res| {
            let _ = tx.send(res);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("GPU device lost");
        rx.recv()
            .expect("GPU read-back callback dropped")
            .expect("GPU read-back failed");
        let data = {
            let view = readback
                .get_mapped_range(0..mapped)
                .expect("GPU read-back mapping");
            if let (Some(_), Some(tick_ns)) = (timer, self.tick_ns) {
                let at = stamps_at(bytes) as usize;
                let stamps: [u64; 2] = bytemuck::pod_read_unaligned(&view[at..mapped as usize]);
                // A clock that went backwards (some drivers' across a power-state change)
                // counts as zero rather than as a huge unsigned difference.
                let ticks = stamps[1].saturating_sub(stamps[0]);
                self.kernel_ns
                    .fetch_add((ticks as f64 * tick_ns).round() as u64, Ordering::Relaxed);
            }
            bytemuck::cast_slice::<u8, f32>(&view[..bytes as usize]).to_vec()
        };
        readback.unmap();
        data
    }

    /// A storage buffer the shader writes and the mappable buffer it is copied to (with room
    /// behind the records for a pass's timestamps if `timed`).
    fn output(&self, label: &str, bytes: u64, timed: bool) -> (wgpu::Buffer, wgpu::Buffer) {
        let out = self.buffer(
            label,
            bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let readback = self.buffer(
            "readback",
            if timed {
                stamps_at(bytes) + STAMP_BYTES
            } else {
                bytes
            },
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        (out, readback)
    }

    /// A uniform buffer holding `params`.
    fn upload_uniform(&self, label: &str, params: &Params) -> wgpu::Buffer {
        let buf = self.buffer(
            label,
            std::mem::size_of::<Params>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        self.queue.write_buffer(&buf, 0, bytemuck::bytes_of(params));
        buf
    }

    /// A storage buffer holding `data` (one float if `data` is empty: a binding may not be).
    fn upload_storage(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        let data = if data.is_empty() { &[0.0][..] } else { data };
        let buf = self.buffer(
            label,
            (data.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        buf
    }

    fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    /// One dispatch: `p` holds `n` (at most [`Gpu::chunk`]) entries of natural parameters, each
    /// followed by its weight set's index (f32); returns the raw `n × (dim + 2)` output records.
    fn dispatch(&self, r: &mut Resident, p: &[f32], n: usize) -> Vec<f32> {
        let width = r.dim + 2;
        let pipelines = Arc::clone(&r.pipelines);
        let io = self.io(r, n);
        self.queue
            .write_buffer(&io.theta, 0, bytemuck::cast_slice(p));
        let bytes = (n * width * 4) as u64;
        self.run(
            &pipelines.objective,
            &io.bind_group,
            (n, 1),
            &io.out,
            &io.readback,
            bytes,
            io.timer.as_ref(),
        )
    }
}

impl Backend for Gpu {
    fn describe(&self) -> String {
        format!(
            "gpu (wgpu {:?}, {}, {:?}, f32)",
            self.info.backend, self.info.name, self.info.device_type
        )
    }

    /// f32 rounds to 6e-8; a row's value takes a few `exp`s (which WGSL lets be several ulp
    /// off) and is summed with the other rows in f32. At the additive law's minima on the
    /// paper's split, the GPU's objectives differ from f64 re-scores by 1e-6 to 2e-6 relative;
    /// 1e-5 leaves a margin.
    fn noise(&self) -> f64 {
        1e-5
    }
    fn check(&self, problem: &Problem) -> crate::Result<()> {
        Gpu::check(self, problem)
    }

    /// Supported laws run on the device, in f32, in the size class of `params`' dimension and
    /// `k` (the mixture search refines its best candidates in f64 on the CPU); anything else
    /// (an unsupported law, no domains or more than [`crate::law::MAX_DOMAINS`], or a size
    /// class that does not compile on this device) runs on the CPU.
    fn predict_mixtures(
        &self,
        law: &dyn Law,
        params: &[Vec<f64>],
        ln_n: f64,
        ln_d: f64,
        hs: &[f64],
        k: usize,
        out: &mut [f64],
    ) {
        let dim = params.first().map_or(0, Vec::len);
        let sized = k > 0 && k <= crate::law::MAX_DOMAINS;
        let pipelines = law_id(law)
            .filter(|_| sized)
            .and_then(|_| self.pipelines(Class::of(dim, k)).ok());
        let Some(pipelines) = pipelines else {
            return super::Cpu.predict_mixtures(law, params, ln_n, ln_d, hs, k, out);
        };
        let pipeline = &pipelines.mixtures;
        self.mixtures_dispatch(pipeline, law, params, ln_n, ln_d, hs, k, out);
    }

    /// # Panics
    /// If [`Gpu::check`] refuses the problem; the fitting code calls `check` first.
    fn evaluate(
        &self,
        problem: &Problem,
        thetas: &[f64],
        sets: &[u32],
        f: &mut [f64],
        g: &mut [f64],
    ) {
        let pipelines = match self.prepare(problem) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let dim = problem.dim();
        let batch = f.len();
        assert_eq!(thetas.len(), batch * dim, "thetas is not batch × dim");
        assert_eq!(g.len(), batch * dim, "g is not batch × dim");
        assert_eq!(sets.len(), batch, "sets is not one per entry");
        if batch == 0 {
            return;
        }
        // Natural parameters in f64, and in f32 followed by the weight set; entries that do not
        // fit f32 go to the CPU path.
        let nat: Vec<f64> = thetas
            .chunks(dim)
            .flat_map(|t| problem.to_natural(t))
            .collect();
        let p32: Vec<f32> = nat
            .chunks(dim)
            .zip(sets)
            .flat_map(|(p, &s)| p.iter().map(|&v| v as f32).chain([s as f32]))
            .collect();
        let on_cpu = |b: usize| {
            p32[b * (dim + 1)..b * (dim + 1) + dim]
                .iter()
                .any(|v| !v.is_finite())
        };

        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let r = self.resident(&mut cache, problem, &pipelines);
        let width = dim + 2;
        let chunk = self.chunk(dim);
        let mut start = 0;
        while start < batch {
            let n = (batch - start).min(chunk);
            let out = self.dispatch(r, &p32[start * (dim + 1)..(start + n) * (dim + 1)], n);
            for (i, rec) in out.chunks(width).enumerate() {
                let b = start + i;
                let gb = &mut g[b * dim..(b + 1) * dim];
                let set = sets[b] as usize;
                if on_cpu(b) {
                    f[b] = problem.eval(&thetas[b * dim..(b + 1) * dim], set, gb);
                    continue;
                }
                let norm = problem.norm(set);
                if rec[width - 1] != 0.0 {
                    f[b] = f64::INFINITY;
                    gb.fill(0.0);
                    continue;
                }
                f[b] = rec[0] as f64 * norm;
                for (gj, r) in gb.iter_mut().zip(&rec[1..]) {
                    *gj = *r as f64 * norm;
                }
                problem.chain_rule(&nat[b * dim..(b + 1) * dim], gb);
            }
            start += n;
        }
    }
}

/// The shader's id for `law`.
fn law_id(law: &dyn Law) -> Option<usize> {
    LAWS.iter().position(|&n| n == law.name())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The substitution relies on the shader declaring the default class's sizes on exactly
    /// these lines: an edit of the shader that breaks them must fail here, not silently compile
    /// every class at the default size.
    #[test]
    fn the_shader_declares_the_default_class_on_the_substituted_lines() {
        for line in ["const MAXP: u32 = 72u;", "const MAXK: u32 = 16u;"] {
            assert_eq!(
                SHADER.lines().filter(|l| l.trim_end() == line).count(),
                1,
                "{line}"
            );
        }
        assert_eq!(Class::maxp_line(BASE_CLASS.maxp), "const MAXP: u32 = 72u;");
        assert_eq!(Class::maxk_line(BASE_CLASS.maxk), "const MAXK: u32 = 16u;");
        assert_eq!(BASE_CLASS.source().unwrap(), SHADER);
        let src = Class::of(389, 64).source().unwrap();
        assert!(src.contains("const MAXP: u32 = 576u;"));
        assert!(src.contains("const MAXK: u32 = 64u;"));
        assert!(!src.contains("72u;") && !src.contains("16u;"));
        // Nothing but those two lines changes.
        let changed = src.lines().zip(SHADER.lines()).filter(|(a, b)| a != b);
        assert_eq!(changed.count(), 2);
        assert_eq!(src.lines().count(), SHADER.lines().count());
    }

    /// The smallest class `(72·2^a, 16·2^b)` that holds the problem, and few classes in all up
    /// to the crate's limit of 64 domains.
    #[test]
    fn size_classes_are_the_smallest_that_hold_the_problem() {
        assert_eq!(Gpu::size_class(0, 0), (72, 16));
        assert_eq!(Gpu::size_class(72, 16), (72, 16));
        assert_eq!(Gpu::size_class(73, 16), (144, 16));
        assert_eq!(Gpu::size_class(72, 17), (72, 32));
        // additive (5 + 2k), joint (5 + 4k) and full (5 + 6k) at k = 20 and 64.
        assert_eq!(Gpu::size_class(45, 20), (72, 32));
        assert_eq!(Gpu::size_class(85, 20), (144, 32));
        assert_eq!(Gpu::size_class(125, 20), (144, 32));
        assert_eq!(Gpu::size_class(133, 64), (144, 64));
        assert_eq!(Gpu::size_class(261, 64), (288, 64));
        assert_eq!(Gpu::size_class(389, 64), (576, 64));
        let mut classes: Vec<(usize, usize)> = (0..=crate::law::MAX_DOMAINS)
            .flat_map(|k| [1 + k, 2 + k, 5 + 2 * k, 5 + 4 * k, 5 + 6 * k].map(|d| (d, k)))
            .map(|(d, k)| Gpu::size_class(d, k))
            .collect();
        classes.sort();
        classes.dedup();
        assert!(classes.len() <= 12, "{classes:?}");
    }

    /// A source without the default class's lines (or with one twice) is an error, not a
    /// silent default-size build.
    #[test]
    fn a_missing_or_repeated_marker_is_an_error() {
        let class = Class::of(100, 20);
        assert!(class.substitute(SHADER).is_ok());
        let edited = [
            SHADER.replace("const MAXK: u32 = 16u;", "const MAXK: u32 = 32u;"),
            SHADER.replace(
                "const MAXP: u32 = 72u;",
                "const MAXP: u32 = 72u; // the most",
            ),
            SHADER.replace("const MAXP: u32 = 72u;", "const MAXP: u32 = 80u;"),
            format!("{SHADER}\nconst MAXK: u32 = 16u;\n"),
        ];
        for src in edited {
            let e = class.substitute(&src).unwrap_err().to_string();
            assert!(e.contains("exactly once"), "{e}");
        }
    }
}
