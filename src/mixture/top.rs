//! The best few lattice points of a weighting, as every sweep keeps them.
//!
//! Points are ordered by value (`f64::total_cmp`) and, among equal values, by the lattice's
//! lexicographic order of `h` (which is its rank order). That is the order a sequential sweep
//! in rank order that keeps a point only if it beats the worst kept one produces, and it does
//! not depend on how the lattice is split: the parts of a parallel sweep merge to the same list.

use std::cmp::Ordering;

/// Up to `cap` points, best first.
#[derive(Clone, Debug)]
pub(super) struct Top {
    cap: usize,
    points: Vec<(f64, Vec<f64>)>,
}

/// By value, then by `h` in lattice order.
pub(super) fn order(a: &(f64, Vec<f64>), b: &(f64, Vec<f64>)) -> Ordering {
    a.0.total_cmp(&b.0).then_with(|| {
        a.1.iter()
            .zip(&b.1)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

impl Top {
    pub(super) fn new(cap: usize) -> Self {
        Top {
            cap,
            points: Vec::with_capacity(cap + 1),
        }
    }

    /// Values at or below this may enter (a quick test before [`Top::offer`]); values above it
    /// cannot. +∞ while the list is not full or its worst value is NaN.
    #[inline]
    pub(super) fn threshold(&self) -> f64 {
        match self.points.last() {
            Some(w) if self.points.len() >= self.cap && !w.0.is_nan() => w.0,
            _ => f64::INFINITY,
        }
    }

    /// Whether the list is full (past it, only [`Top::threshold`] lets points in).
    #[inline]
    pub(super) fn full(&self) -> bool {
        self.points.len() >= self.cap
    }

    /// Keep `(v, h)` if it is among the best `cap` seen; `h` is built only then.
    pub(super) fn offer(&mut self, v: f64, h: impl FnOnce() -> Vec<f64>) {
        let p = (v, h());
        if self.full() && order(&p, self.points.last().expect("full")).is_ge() {
            return;
        }
        let at = self
            .points
            .partition_point(|q| order(q, &p) == Ordering::Less);
        self.points.insert(at, p);
        self.points.truncate(self.cap);
    }

    /// The best `cap` of both lists.
    pub(super) fn merge(mut self, other: Top) -> Top {
        for (v, h) in other.points {
            self.offer(v, || h);
        }
        self
    }

    /// The points, best first.
    pub(super) fn into_points(self) -> Vec<(f64, Vec<f64>)> {
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_with_ties_in_lattice_order_however_split() {
        let pts: Vec<(f64, Vec<f64>)> = (0..40)
            .map(|i| (((i * 7) % 5) as f64, vec![i as f64, 0.0]))
            .collect();
        let mut whole = Top::new(6);
        for (v, h) in &pts {
            whole.offer(*v, || h.clone());
        }
        let (mut a, mut b) = (Top::new(6), Top::new(6));
        for (i, (v, h)) in pts.iter().enumerate().rev() {
            let t = if i % 3 == 0 { &mut a } else { &mut b };
            t.offer(*v, || h.clone());
        }
        let merged = b.merge(a).into_points();
        let whole = whole.into_points();
        assert_eq!(merged, whole);
        // The zeros (i ≡ 0 mod 5) come first, earliest first.
        let firsts: Vec<f64> = whole.iter().map(|p| p.1[0]).collect();
        assert_eq!(firsts, [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]);
    }
}
