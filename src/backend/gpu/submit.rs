//! One dispatch: upload, submit, wait, read back (with the pass's timestamps), and the buffers
//! and bind groups a dispatch needs.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use super::device::Gpu;
use super::resident::{stamps_at, Resident, Timer, STAMP_BYTES};
use super::shader::Uniforms;
use super::stride;
use crate::law::{ln_weight, Law};

impl Gpu {
    /// Every target's prediction (natural parameters `params`, one vector per target) at each
    /// candidate mixture of `hs` (`k` wide), at `ln N`, `ln D` in fit units, into `out`
    /// (candidate-major). One upload, one dispatch (2-D past 65,535 workgroups), one read-back.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mixtures_dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        law: &Law,
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
            rows.extend(h.iter().map(|&v| ln_weight(v) as f32));
        }
        let theta: Vec<f32> = params.iter().flatten().map(|&v| v as f32).collect();
        let uniforms = Uniforms {
            n_rows: n as u32,
            k: k as u32,
            dim: dim as u32,
            law: Gpu::kernel_of(law).expect("checked").0,
            residual: 0,
            stride: stride(k) as u32,
            delta: 1.0,
            inv_delta: 1.0,
            targets: targets as u32,
            loss: 0,
            penalty: 1.0,
            pad: [0; 1],
        };
        let uniforms = self.upload_uniforms("mixture uniforms", &uniforms);
        let rows_buf = self.upload_storage("candidates", &rows);
        let theta_buf = self.upload_storage("target params", &theta);
        let bytes = (n * targets * 4) as u64;
        let (out_buf, readback) = self.output("predictions", bytes, false);
        let bind_group = self.bind(pipeline, &[&uniforms, &rows_buf, &theta_buf, &out_buf]);
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
    pub(super) fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
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
    pub(super) fn run(
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
        // Nothing of an earlier dispatch can pass for this one's output (a kernel that stops
        // early leaves zeros, which the callers' counts catch).
        encoder.clear_buffer(out, 0, Some(bytes));
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
    pub(super) fn output(
        &self,
        label: &str,
        bytes: u64,
        timed: bool,
    ) -> (wgpu::Buffer, wgpu::Buffer) {
        let out = self.buffer(
            label,
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
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

    /// A uniform buffer holding `uniforms`.
    pub(super) fn upload_uniforms(&self, label: &str, uniforms: &Uniforms) -> wgpu::Buffer {
        let buf = self.buffer(
            label,
            std::mem::size_of::<Uniforms>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        self.queue
            .write_buffer(&buf, 0, bytemuck::bytes_of(uniforms));
        buf
    }

    /// A storage buffer holding `data` (one float if `data` is empty: a binding may not be).
    pub(super) fn upload_storage(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        let data = if data.is_empty() { &[0.0][..] } else { data };
        let buf = self.buffer(
            label,
            (data.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        buf
    }

    /// A storage buffer holding `data` (one zero if empty).
    pub(super) fn upload_u32(&self, label: &str, data: &[u32]) -> wgpu::Buffer {
        let data = if data.is_empty() { &[0][..] } else { data };
        let buf = self.buffer(
            label,
            (data.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        buf
    }

    /// A uniform buffer holding four `u32`s.
    pub(super) fn upload_u32_uniform(&self, label: &str, data: &[u32; 4]) -> wgpu::Buffer {
        let buf = self.buffer(
            label,
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        buf
    }

    pub(super) fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    /// One dispatch: `p` holds `n` (at most [`Gpu::chunk`]) entries of natural parameters, each
    /// followed by its weight set's index (f32); returns the raw `n ×` [`record_width`] output records.
    pub(super) fn dispatch(&self, r: &mut Resident, p: &[f32], n: usize) -> Vec<f32> {
        let width = record_width(r.dim);
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

/// Floats of the objective kernel's record per entry: f, the gradient, the counts of rows whose
/// residual was not finite and of rows visited.
pub(super) fn record_width(dim: usize) -> usize {
    dim + 3
}
