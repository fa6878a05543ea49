//! Synthetic recovery: tables simulated from known parameters are fitted back.
//!
//! Noise-free data make the truth a global minimum with objective 0, so the tolerances can be
//! tight and still meaningful:
//! * the fitted objective is below 1e-12 (mean Huber; a residual of 1.4e-6 alone would exceed
//!   it), i.e. the optimiser actually reached the bottom;
//! * predictions at points outside the training design (a 4x larger model, 4x more tokens,
//!   fresh mixtures) agree with the truth to 1e-4 relative — the property users rely on;
//! * for the laws whose parameters are identified by the design (chinchilla and additive),
//!   every parameter is within 1e-3 relative of the truth. The other laws have flat directions
//!   by construction (linear's intercept against a shift of all C_i; datamix's C against a common
//!   shift of γ; joint/full's amplitudes against their exponents when Σh = 1), so for them only
//!   predictions are asserted.

use mixlaw::backend::Cpu;
use mixlaw::data::{load, DataSpec, Table};
use mixlaw::fit::FitSettings;
use mixlaw::law::registry::by_name;
use mixlaw::law::Point;
use mixlaw::simulate::{parse_params, simulate, Design};

use crate::common;

fn domains() -> Vec<String> {
    ["web", "code", "books"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn design(seed: u64, sizes: Vec<f64>, tokens: Vec<f64>) -> Design {
    Design {
        domains: domains(),
        mixtures: 24,
        min_weight: 0.03,
        sizes,
        tokens,
        noise: 0.0,
        seed,
        n_unit: 1e6,
        d_unit: 1e9,
    }
}

fn recover(law_name: &str, params: &str, check_params: bool) {
    recover_law(&by_name(law_name).unwrap(), law_name, params, check_params);
}

/// [`recover`] for any law (`law_name` names its temporary directory and its messages).
fn recover_law(law: &mixlaw::law::Law, law_name: &str, params: &str, check_params: bool) {
    let law = law.clone();
    let doms = if law.uses_mixture() {
        domains()
    } else {
        Vec::new()
    };
    let truth = parse_params(&law, &doms, params).unwrap();
    let train = simulate(
        &law,
        &truth,
        &design(1, vec![50e6, 100e6, 200e6, 400e6], vec![1e9, 2e9, 4e9, 8e9]),
    )
    .unwrap();
    let dir = common::temp_dir(&format!("recovery-{law_name}"));
    let path = dir.join("train.csv");
    std::fs::write(&path, train.to_csv(&doms, "target_loss")).unwrap();
    let spec = DataSpec {
        weight_prefix: "weight_".into(),
        ..DataSpec::default()
    }
    .for_law(&law);
    let ds = load(&Table::read(&path).unwrap(), &spec).unwrap();
    let mut settings = FitSettings::defaults_for(&law);
    settings.starts = if law_name == "chinchilla" { 0 } else { 40 };
    let fit = mixlaw::fit::fit(&ds, &law, &settings, &Cpu, &[], &mut |_, _, _| {}).unwrap();
    let t = &fit.targets[0];
    assert!(
        t.objective < 1e-12,
        "{law_name}: objective {:e} (converged {}/{})",
        t.objective,
        t.converged,
        t.starts
    );
    let got = fit.param_vector(&law, 0);
    let test = simulate(&law, &truth, &design(2, vec![1600e6], vec![32e9])).unwrap();
    for r in 0..test.loss.len() {
        let x = Point::new(test.n[r] / 1e6, test.d[r] / 1e9, &test.h[r]);
        let pred = law.eval(&got, &x, None);
        assert!(
            ((pred - test.loss[r]) / test.loss[r]).abs() < 1e-4,
            "{law_name}: extrapolated prediction {pred} vs truth {}",
            test.loss[r]
        );
    }
    if check_params {
        for ((name, v), want) in t.params.0.iter().zip(&truth) {
            assert!(
                ((v - want) / want).abs() < 1e-3,
                "{law_name}: {name} = {v}, truth {want}"
            );
        }
    }
}

#[test]
fn chinchilla_is_recovered() {
    recover("chinchilla", "E=1.7,A=5,alpha=0.35,B=2,beta=0.3", true);
}

#[test]
fn additive_is_recovered() {
    recover(
        "additive",
        "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_web=2,C_code=0.8,C_books=1.2,gamma_web=0.5,gamma_code=0.3,gamma_books=0.4",
        true,
    );
}

#[test]
fn joint_is_recovered() {
    recover(
        "joint",
        "E=1.5,alpha=0.34,beta=0.3,C_web=2,C_code=0.8,C_books=1.2,gamma_web=0.5,gamma_code=0.3,gamma_books=0.4,\
         CA_web=4,CA_code=3,CA_books=5,gammaA=1.2,CB_web=1.5,CB_code=2,CB_books=1,gammaB=0.8",
        false,
    );
}

#[test]
fn simple_is_recovered() {
    recover(
        "simple",
        "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_web=0.5,C_code=0.2,C_books=0.3,gamma=-0.7",
        false,
    );
}

#[test]
fn full_is_recovered() {
    recover(
        "full",
        "E=1.5,C_web=2,C_code=0.8,C_books=1.2,gamma_web=0.5,gamma_code=0.3,gamma_books=0.4,\
         CA_web=4,CA_code=3,CA_books=5,gammaA=1.2,CB_web=1.5,CB_code=2,CB_books=1,gammaB=0.8,\
         Calpha_web=0.3,Calpha_code=0.4,Calpha_books=0.35,gamma_alpha=1.0,\
         Cbeta_web=0.3,Cbeta_code=0.25,Cbeta_books=0.3,gamma_beta=1.0",
        false,
    );
}

#[test]
fn datamix_is_recovered() {
    recover(
        "datamix",
        "E=1.2,C=1.5,gamma_web=-0.8,gamma_code=0.4,gamma_books=-0.2",
        false,
    );
}

#[test]
fn linear_is_recovered() {
    recover("linear", "E=2.5,C_web=-0.3,C_code=0.4,C_books=0.1", false);
}

/// A law written as a law file and not built in (one γ shared by every domain) is recovered as
/// the built-in laws are.
#[test]
fn a_law_file_is_recovered() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("laws/additive-shared-gamma.toml");
    let law = mixlaw::law::formula::file::load(&path).unwrap();
    recover_law(
        &law,
        "additive-shared-gamma",
        "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_web=2,C_code=0.8,C_books=1.2,gamma=0.4",
        true,
    );
}

/// An inline formula with its unknown names made parameters (bounds overridden for the
/// exponents) is recovered too.
#[test]
fn an_inline_formula_is_recovered() {
    let bounds = [
        ("alpha".to_string(), [0.0, 2.0]),
        ("beta".to_string(), [0.0, 2.0]),
    ];
    let (law, warnings) = mixlaw::law::formula::file::inline(
        "E + A/N^alpha + B/D^beta + 1/sum_i(C[i]*h[i]^0.5)",
        &bounds,
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    recover_law(
        &law,
        "inline-formula",
        "E=1.5,A=4,alpha=0.34,B=1.5,beta=0.3,C_web=2,C_code=0.8,C_books=1.2",
        true,
    );
}
