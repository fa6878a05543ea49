//! Adapter discovery, and the [`Gpu`] that owns the device and everything made on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::resident::Resident;
use super::shader::{build, Built, Class};
use super::sweep::SweepPipeline;
use super::DeviceInfo;
use crate::Error;

/// A built (or failed) size class, for the registry's laws (`None`) or one formula law's
/// generated WGSL.
pub(super) type Pipeline = (Class, Option<Arc<str>>, Built);

/// A wgpu device running `shaders/objective.wgsl`: the one owner of all GPU state.
pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    /// The size classes built so far (the default one from the start), in build order.
    /// Failed builds are kept too (with their error), so that a class that does not compile is
    /// not compiled again on every call that needs it.
    pub(super) pipelines: Mutex<Vec<Pipeline>>,
    pub(super) info: wgpu::AdapterInfo,
    /// Entries per dispatch at most (device limits, or lower for tests).
    pub(super) split: usize,
    pub(super) max_binding: u64,
    /// Problems' buffers, most recently used last.
    pub(super) cache: Mutex<Vec<Resident>>,
    /// Nanoseconds per timestamp tick; `None` where the device has no timestamp queries.
    pub(super) tick_ns: Option<f64>,
    /// Kernel time of the objective dispatches since the device opened or
    /// [`Gpu::reset_kernel_time`], in nanoseconds.
    pub(super) kernel_ns: AtomicU64,
    /// The separable sweep's pipelines built so far (`sweep.rs`), by source.
    pub(super) sweeps: Mutex<Vec<SweepPipeline>>,
    /// The most lattice points one invocation of the sweep enumerates, where set (else the
    /// sweep's loop budget decides).
    pub(super) sweep_points: Option<u64>,
}

/// An error if `WGPU_BACKEND` holds a name wgpu does not know: wgpu would skip it with a log
/// line nobody sees and then find no adapter, or fall back to every backend.
fn check_backend_env() -> Result<(), Error> {
    let Ok(value) = std::env::var("WGPU_BACKEND") else {
        return Ok(());
    };
    let known = [
        "vulkan", "vk", "dx12", "d3d12", "metal", "mtl", "opengl", "gles", "gl", "webgpu", "noop",
    ];
    let unknown: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|b| !known.contains(&b.to_lowercase().as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::Gpu(format!(
        "WGPU_BACKEND='{value}' names no backend wgpu knows ('{}'); use vulkan, metal, dx12 or \
         gl (comma-separated), or unset it",
        unknown.join("', '")
    )))
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
        check_backend_env()?;
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
        let base = Arc::new(build(&device, &info, Class::BASE, None)?);
        let max_binding = required_limits
            .max_storage_buffer_binding_size
            .min(required_limits.max_buffer_size);
        Ok(Gpu {
            device,
            queue,
            pipelines: Mutex::new(vec![(Class::BASE, None, Ok(base))]),
            info,
            split: required_limits.max_compute_workgroups_per_dimension as usize,
            max_binding,
            cache: Mutex::new(Vec::new()),
            tick_ns,
            kernel_ns: AtomicU64::new(0),
            sweeps: Mutex::new(Vec::new()),
            sweep_points: None,
        })
    }

    /// Device time the objective kernel took (from the beginning to the end of each dispatch's
    /// compute pass, by timestamp queries), summed over every [`Backend::evaluate`] since the
    /// device was opened or [`Gpu::reset_kernel_time`]; the mixture-search kernel is not
    /// counted. `None` where the adapter has no timestamp queries.
    ///
    /// Evaluations running at once on the same `Gpu` all add to the one total.
    ///
    /// [`Backend::evaluate`]: crate::backend::Backend::evaluate
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

    /// Sets the most lattice points one invocation of the separable sweep enumerates (for tests
    /// and for tuning on a device; by default a budget of loop iterations decides, which keeps
    /// Mesa's software device within its loop limit).
    pub fn with_sweep_points(mut self, points: u64) -> Gpu {
        self.sweep_points = Some(points.max(1));
        self
    }
}
