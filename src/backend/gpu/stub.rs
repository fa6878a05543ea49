//! The GPU backend of a mixlaw built without the `gpu` cargo feature: the same API, no wgpu.
//! [`Gpu::new`] is an error that says so, and there are no adapters to list.

use super::DeviceInfo;
use crate::objective::Problem;
use crate::{Error, Result};

/// No GPU: this mixlaw was built without one, so no value of this type exists.
pub enum Gpu {}

/// No adapters: this mixlaw was built without GPU support.
pub fn devices() -> Vec<DeviceInfo> {
    Vec::new()
}

impl Gpu {
    /// Always an error: this mixlaw was built without GPU support.
    pub fn new() -> Result<Gpu> {
        Err(Error::Gpu(
            "this mixlaw was built without GPU support (the `gpu` cargo feature is off); \
             use the CPU backend, or rebuild with the default features"
                .into(),
        ))
    }
    /// Unreachable: no `Gpu` exists.
    pub fn is_real_gpu(&self) -> bool {
        match *self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn kernel_time(&self) -> Option<std::time::Duration> {
        match *self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn reset_kernel_time(&self) {
        match *self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn with_split(self, _entries: usize) -> Gpu {
        match self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn with_sweep_points(self, _points: u64) -> Gpu {
        match self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn size_classes(&self) -> Vec<(usize, usize)> {
        match *self {}
    }
    /// Unreachable: no `Gpu` exists.
    pub fn check(&self, _problem: &Problem) -> Result<()> {
        match *self {}
    }
}

impl super::super::Backend for Gpu {
    fn describe(&self) -> String {
        match *self {}
    }
    fn evaluate(&self, _: &Problem, _: &[f64], _: &[u32], _: &mut [f64], _: &mut [f64]) {
        match *self {}
    }
}
