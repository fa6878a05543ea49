//! A problem's life on the device: whether the device can take it, its buffers (rows and weight
//! sets uploaded once, per-batch buffers grown as needed) and the cache that keeps them.

use std::sync::Arc;

use super::device::Gpu;
use super::shader::{Class, Pipelines, Uniforms};
use super::stride;
use super::submit::record_width;
use crate::loss::{LossKind, Residual};
use crate::objective::Problem;
use crate::Error;

/// Problems whose buffers are kept on the device.
const CACHED_PROBLEMS: usize = 4;

/// Device buffers for one problem: its uniforms and rows, uploaded once, and the per-batch
/// buffers, sized for the largest batch seen so far (one dispatch at most).
pub(super) struct Resident {
    id: u64,
    pub dim: usize,
    /// The problem's size class's pipelines (its bind group is made from their layout).
    pub pipelines: Arc<Pipelines>,
    uniforms: wgpu::Buffer,
    rows: wgpu::Buffer,
    weights: wgpu::Buffer,
    io: Option<Io>,
    /// The device visited fewer rows than the problem has (its loops were cut short): the
    /// problem is evaluated on the CPU from then on.
    pub cut: bool,
}

/// θ in, records out, and the bind group tying them to the problem's rows.
pub(super) struct Io {
    /// Entries these buffers hold.
    capacity: usize,
    pub theta: wgpu::Buffer,
    pub out: wgpu::Buffer,
    /// The output records, then (with `timer`) the pass's two timestamps at
    /// [`stamps_at`]`(records' bytes)`.
    pub readback: wgpu::Buffer,
    pub bind_group: wgpu::BindGroup,
    /// `None` where the device has no timestamp queries.
    pub timer: Option<Timer>,
}

/// Where a dispatch's compute pass writes its beginning and end timestamps, and the buffer
/// they are resolved into (and copied on from, into the read-back buffer).
pub(super) struct Timer {
    pub queries: wgpu::QuerySet,
    pub resolved: wgpu::Buffer,
}

/// Bytes of a pass's two resolved timestamps (`u64` ticks each).
pub(super) const STAMP_BYTES: u64 = 2 * wgpu::QUERY_SIZE as u64;

/// Offset of the timestamps in a read-back buffer whose records take `bytes`: the next multiple
/// of 8, so that they are whole `u64`s.
pub(super) fn stamps_at(bytes: u64) -> u64 {
    bytes.next_multiple_of(8)
}

impl Gpu {
    /// Whether this device can evaluate `problem`: a law with a GPU kernel, at most
    /// [`crate::law::MAX_DOMAINS`] domains, a size class whose pipelines compile (built here if
    /// this is the first problem of its class, so that a compile failure is a clear error
    /// before a fit starts), rows and weight sets that each fit one storage binding, and
    /// weight-set indices that an f32 holds exactly.
    pub fn check(&self, problem: &Problem) -> Result<(), Error> {
        self.prepare(problem).map(|_| ())
    }

    /// [`Gpu::check`], returning the problem's size class's pipelines.
    pub(super) fn prepare(&self, problem: &Problem) -> Result<Arc<Pipelines>, Error> {
        let law = problem.law();
        let (_, formula) = Gpu::kernel_of(law)?;
        let (dim, k) = (problem.dim(), problem.rows().k());
        let most = crate::law::MAX_DOMAINS;
        if k > most {
            return Err(Error::Gpu(format!(
                "law '{}' has {k} domains; mixlaw handles at most {most}",
                law.name()
            )));
        }
        let rows = (problem.rows().len() * stride(k) * 4) as u64;
        let weights = (problem.weights().all().len() * 4) as u64;
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
        if problem.weights().len() > 1 << 24 {
            return Err(Error::Gpu(format!(
                "the GPU backend takes at most 2^24 weight sets per problem, not {}",
                problem.weights().len()
            )));
        }
        self.pipelines(Class::of(dim, k), formula.as_ref())
    }

    /// Entries one dispatch takes for a problem of `dim` parameters.
    pub(super) fn chunk(&self, dim: usize) -> usize {
        let per_entry = (4 * record_width(dim)) as u64;
        self.split
            .min((self.max_binding / per_entry) as usize)
            .max(1)
    }

    /// The problem's buffers, uploaded if absent, as the last (most recent) cache entry.
    pub(super) fn resident<'c>(
        &self,
        cache: &'c mut Vec<Resident>,
        problem: &Problem,
        pipelines: &Arc<Pipelines>,
    ) -> &'c mut Resident {
        if let Some(i) = cache.iter().position(|r| r.id == problem.id()) {
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
        let rows = problem.rows();
        let (k, dim) = (rows.k(), problem.dim());
        let stride = stride(k);
        let mut data = Vec::with_capacity(rows.len() * stride);
        for j in 0..rows.len() {
            let y = rows.y()[j];
            let target = match problem.residual() {
                Residual::Raw => y,
                Residual::Log => y.ln(),
            };
            data.extend([rows.ln_n()[j], rows.ln_d()[j], target].map(|v| v as f32));
            data.extend(rows.h(j).iter().map(|&v| v as f32));
            data.extend(rows.ln_h(j).iter().map(|&v| v as f32));
        }
        let uniforms = Uniforms {
            n_rows: rows.len() as u32,
            k: k as u32,
            dim: dim as u32,
            law: Gpu::kernel_of(problem.law()).expect("checked").0,
            residual: match problem.residual() {
                Residual::Raw => 0,
                Residual::Log => 1,
            },
            stride: stride as u32,
            delta: problem.delta() as f32,
            inv_delta: (1.0 / problem.delta()) as f32,
            targets: 0,
            loss: match problem.loss().kind {
                LossKind::Huber | LossKind::Mae => 0,
                LossKind::Mse => 1,
            },
            penalty: problem.loss().penalty as f32,
            pad: [0; 1],
        };
        let weights: Vec<f32> = problem.weights().all().iter().map(|&w| w as f32).collect();
        Resident {
            id: problem.id(),
            dim,
            pipelines,
            uniforms: self.upload_uniforms("uniforms", &uniforms),
            rows: self.upload_storage("rows", &data),
            weights: self.upload_storage("weights", &weights),
            io: None,
            cut: false,
        }
    }

    /// Per-batch buffers for `n` entries (at most one dispatch), grown (to the next power of two,
    /// capped at one dispatch) when `n` exceeds what they hold.
    pub(super) fn io<'r>(&self, r: &'r mut Resident, n: usize) -> &'r Io {
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
        let out_bytes = (capacity * record_width(dim) * 4) as u64;
        let timed = self.tick_ns.is_some();
        let (out, readback) = self.output("out", out_bytes, timed);
        let bind_group = self.bind(
            &r.pipelines.objective,
            &[&r.uniforms, &r.rows, &theta, &out, &r.weights],
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
}
