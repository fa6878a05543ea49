//! The kernel's source and its compiled pipelines: `shaders/objective.wgsl`, specialised per size
//! class, with the law dispatch generated from the law registry.

use std::sync::Arc;

use super::device::Gpu;
use crate::law::{formula, registry, Kernel, Law};
use crate::Error;

/// The kernel's source, compiled once per size class with `MAXP` and `MAXK` substituted and the
/// law dispatch appended.
pub(super) const SHADER: &str = include_str!("../../../shaders/objective.wgsl");

/// The shader's uniform block (`Uniforms` in the WGSL).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct Uniforms {
    pub n_rows: u32,
    pub k: u32,
    pub dim: u32,
    /// The law's kernel id.
    pub law: u32,
    /// 0: raw residual, 1: log residual.
    pub residual: u32,
    pub stride: u32,
    pub delta: f32,
    pub inv_delta: f32,
    /// `predict_mixtures` only: parameter vectors in `theta`.
    pub targets: u32,
    /// 0: Huber and the absolute error's stand-in (`Huber_δ/δ`, the same scaled values),
    /// 1: squared error.
    pub loss: u32,
    /// The overestimate penalty W (1: symmetric).
    pub penalty: f32,
    pub pad: [u32; 1],
}

/// A size class of the kernel: the lengths of its private arrays, `MAXP` (parameters) and
/// `MAXK` (domains).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Class {
    pub maxp: usize,
    pub maxk: usize,
}

impl Class {
    /// The default (and smallest) class: what the shader's source declares.
    pub const BASE: Class = Class {
        maxp: super::BASE_CLASS.0,
        maxk: super::BASE_CLASS.1,
    };

    /// The smallest class that holds `dim` parameters over `k` domains ([`super::size_class`]).
    pub fn of(dim: usize, k: usize) -> Class {
        let (maxp, maxk) = super::size_class(dim, k);
        Class { maxp, maxk }
    }

    /// The shader's line declaring `MAXP`, for `maxp`.
    fn maxp_line(maxp: usize) -> String {
        format!("const MAXP: u32 = {maxp}u;")
    }

    /// The shader's line declaring `MAXK`, for `maxk`.
    fn maxk_line(maxk: usize) -> String {
        format!("const MAXK: u32 = {maxk}u;")
    }

    /// The shader's source for this class: the sizes substituted and the registered laws'
    /// dispatch appended, or for a formula law (`formula`: its generated WGSL) a `predict` that
    /// calls the formula's function.
    fn source(self, formula: Option<&str>) -> Result<String, Error> {
        let laws = match formula {
            None => dispatch(registry::builtin()),
            Some(f) => format!(
                "{f}
fn predict(ln_n: f32, ln_d: f32) -> f32 {{
    return {}(ln_n, ln_d);
}}
",
                formula::WGSL_FUNCTION
            ),
        };
        Ok(self.substitute(SHADER)? + &laws)
    }

    /// `shader` with the default class's `MAXP` and `MAXK` lines (whole lines, trailing
    /// whitespace aside), which must each occur exactly once, replaced by this class's.
    fn substitute(self, shader: &str) -> Result<String, Error> {
        let lines = [
            (
                Class::maxp_line(Class::BASE.maxp),
                Class::maxp_line(self.maxp),
            ),
            (
                Class::maxk_line(Class::BASE.maxk),
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

/// The shader's `predict`: a switch on the uniform law id over the kernel function of every law
/// of `laws` with a hand-written one (a law's id is its [`Kernel::Builtin`] id).
fn dispatch(laws: &[Law]) -> String {
    let mut src = String::from(
        "\n// Generated from the law registry (src/law/registry.rs) by src/backend/gpu/shader.rs.\n\
         fn predict(ln_n: f32, ln_d: f32) -> f32 {\n    switch params.law {\n",
    );
    for kernel in laws.iter().filter_map(Law::kernel) {
        if let Kernel::Builtin { id, function } = kernel {
            src.push_str(&format!(
                "        case {id}u: {{\n            return {function}(ln_n, ln_d);\n        }}\n"
            ));
        }
    }
    src.push_str("        default: {\n            return 0.0;\n        }\n    }\n}\n");
    src
}

/// The compiled kernel of one size class: both entry points. A bind group for one must be made
/// from that same pipeline's layout (automatic layouts differ between pipelines).
pub(super) struct Pipelines {
    /// `main`: the objective and its gradient.
    pub objective: wgpu::ComputePipeline,
    /// `predict_mixtures`: every target's prediction at every candidate mixture.
    pub mixtures: wgpu::ComputePipeline,
}

/// A size class's pipelines, or why they did not compile.
pub(super) type Built = Result<Arc<Pipelines>, String>;

/// Compiles `class`'s pipelines, catching shader and pipeline errors in an error scope (rather
/// than reaching wgpu's default handler, which panics) and returning them with naga's message.
pub(super) fn build(
    device: &wgpu::Device,
    info: &wgpu::AdapterInfo,
    class: Class,
    formula: Option<&str>,
) -> Result<Pipelines, Error> {
    let source = class.source(formula)?;
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
        let class = if class == Class::BASE {
            String::new()
        } else {
            format!(" (size class MAXP = {}, MAXK = {})", class.maxp, class.maxk)
        };
        let what = match formula {
            None => "shaders/objective.wgsl",
            Some(_) => "shaders/objective.wgsl with a formula law's generated WGSL",
        };
        return Err(Error::Gpu(format!(
            "{what}{class} does not compile on {}: {e}",
            info.name
        )));
    }
    Ok(Pipelines {
        objective,
        mixtures,
    })
}

impl Gpu {
    /// The size classes `(MAXP, MAXK)` whose pipelines this device has built, in the order they
    /// were built: the default (72, 16) first, then each the first time a problem needed it.
    pub fn size_classes(&self) -> Vec<(usize, usize)> {
        let built = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        built
            .iter()
            .filter(|(_, f, p)| p.is_ok() && f.is_none())
            .map(|(c, ..)| (c.maxp, c.maxk))
            .collect()
    }

    /// The pipelines of `class`, built (and kept) if this is the first time it is needed.
    pub(super) fn pipelines(
        &self,
        class: Class,
        formula: Option<&Arc<str>>,
    ) -> Result<Arc<Pipelines>, Error> {
        // Built under the lock: two threads needing a new class compile it once.
        let mut built = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((.., p)) = built
            .iter()
            .find(|(c, f, _)| *c == class && f.as_ref() == formula)
        {
            return p.clone().map_err(Error::Gpu);
        }
        let p = build(&self.device, &self.info, class, formula.map(|f| &**f)).map(Arc::new);
        let kept = p.as_ref().map(Arc::clone).map_err(|e| match e {
            Error::Gpu(msg) => msg.clone(),
            other => other.to_string(),
        });
        built.push((class, formula.cloned(), kept));
        p
    }

    /// The law id the kernel's uniforms carry for `law` and, for a formula law, its generated
    /// WGSL; an error for a law without a kernel, or with a built-in kernel the registry does not
    /// hold (a law defined at run time naming a function would run another law's, or none).
    pub(super) fn kernel_of(law: &Law) -> Result<(u32, Option<Arc<str>>), Error> {
        match law.kernel() {
            Some(Kernel::Generated(src)) => Ok((0, Some(Arc::clone(src)))),
            Some(k @ Kernel::Builtin { id, .. })
                if registry::builtin()
                    .get(*id as usize)
                    .and_then(Law::kernel)
                    .is_some_and(|r| r == k) =>
            {
                Ok((*id, None))
            }
            _ => Err(Error::Gpu(format!(
                "the GPU backend has no kernel for law '{}'",
                law.name()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::gpu::size_class;

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
        assert_eq!(Class::maxp_line(Class::BASE.maxp), "const MAXP: u32 = 72u;");
        assert_eq!(Class::maxk_line(Class::BASE.maxk), "const MAXK: u32 = 16u;");
        assert_eq!(Class::BASE.substitute(SHADER).unwrap(), SHADER);
        let src = Class::of(389, 64).substitute(SHADER).unwrap();
        assert!(src.contains("const MAXP: u32 = 576u;"));
        assert!(src.contains("const MAXK: u32 = 64u;"));
        assert!(!src.contains("72u;") && !src.contains("16u;"));
        // Nothing but those two lines changes.
        let changed = src.lines().zip(SHADER.lines()).filter(|(a, b)| a != b);
        assert_eq!(changed.count(), 2);
        assert_eq!(src.lines().count(), SHADER.lines().count());
        // The full source is the substituted shader and the generated dispatch.
        let full = Class::of(389, 64).source(None).unwrap();
        assert!(full.starts_with(&src) && full.contains("fn predict(ln_n: f32, ln_d: f32)"));
    }

    /// Every registered law with a kernel gets a case, under its id, that calls a function the
    /// shader declares with the signature the dispatch passes; the shader declares no `predict`
    /// of its own.
    #[test]
    fn the_dispatch_covers_every_registered_kernel() {
        let laws = registry::builtin();
        let src = dispatch(laws);
        let kernels: Vec<_> = laws.iter().filter_map(Law::kernel).collect();
        assert_eq!(kernels.len(), laws.len(), "every built-in law has a kernel");
        for (i, k) in kernels.iter().enumerate() {
            let Kernel::Builtin { id, function } = k else {
                panic!("built-in laws have hand-written kernels");
            };
            assert_eq!(*id as usize, i, "kernel ids are registry positions");
            assert!(
                src.contains(&format!(
                    "case {id}u: {{\n            return {function}(ln_n, ln_d);"
                )),
                "{src}"
            );
            let declared = format!("fn {function}(ln_n: f32, ln_d: f32) -> f32 {{");
            assert_eq!(SHADER.matches(&declared).count(), 1, "{declared}");
        }
        assert!(!SHADER.lines().any(|l| l.starts_with("fn predict(")));
    }

    /// The smallest class `(72·2^a, 16·2^b)` that holds the problem, and few classes in all up
    /// to the crate's limit of 64 domains.
    #[test]
    fn size_classes_are_the_smallest_that_hold_the_problem() {
        assert_eq!(size_class(0, 0), (72, 16));
        assert_eq!(size_class(72, 16), (72, 16));
        assert_eq!(size_class(73, 16), (144, 16));
        assert_eq!(size_class(72, 17), (72, 32));
        // additive (5 + 2k), joint (5 + 4k) and full (5 + 6k) at k = 20 and 64.
        assert_eq!(size_class(45, 20), (72, 32));
        assert_eq!(size_class(85, 20), (144, 32));
        assert_eq!(size_class(125, 20), (144, 32));
        assert_eq!(size_class(133, 64), (144, 64));
        assert_eq!(size_class(261, 64), (288, 64));
        assert_eq!(size_class(389, 64), (576, 64));
        let mut classes: Vec<(usize, usize)> = (0..=crate::law::MAX_DOMAINS)
            .flat_map(|k| [1 + k, 2 + k, 5 + 2 * k, 5 + 4 * k, 5 + 6 * k].map(|d| (d, k)))
            .map(|(d, k)| size_class(d, k))
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
