//! The simplex lattice `{h : h_i = j_i / r, Σ j_i = r}`, enumerated without storing it.
//!
//! A sweep asks for points in large batches: the first point of a batch is *unranked* from its
//! index (the combinatorial number system of compositions), the rest follow by stepping to the
//! next composition in lexicographic order, so a batch costs O(k) per point and any batch can be
//! produced independently of the others.

/// `C(n, k)` in u128, saturating at `u128::MAX`.
fn binomial(n: u64, k: u64) -> u128 {
    let k = k.min(n - k.min(n));
    let mut c: u128 = 1;
    for i in 0..k {
        c = c.saturating_mul((n - i) as u128) / (i + 1) as u128;
    }
    c
}

/// Points of the lattice with `k` domains and resolution `r`: `C(r + k − 1, k − 1)`.
pub fn count(k: usize, r: usize) -> u128 {
    if k == 0 {
        return 0;
    }
    binomial((r + k - 1) as u64, (k - 1) as u64)
}

/// The composition of rank `index` (lexicographic order of `(j_0, …, j_{k−1})`) into `j`.
pub fn unrank(mut index: u128, r: usize, j: &mut [usize]) {
    let k = j.len();
    let mut left = r;
    for (i, ji) in j.iter_mut().enumerate().take(k - 1) {
        let parts = (k - i - 2) as u64;
        // Compositions with j_i = v leave `left − v` for the remaining k − i − 1 parts.
        let mut v = 0;
        loop {
            let with_v = binomial((left - v) as u64 + parts, parts);
            if index < with_v {
                break;
            }
            index -= with_v;
            v += 1;
        }
        *ji = v;
        left -= v;
    }
    j[k - 1] = left;
}

/// Step `j` to the next composition in lexicographic order; false after the last one.
pub fn next(j: &mut [usize]) -> bool {
    let k = j.len();
    // The last part holds what is left; find the rightmost part before it that can grow.
    let mut i = k.wrapping_sub(2);
    while i < k {
        if j[k - 1] > 0 {
            j[i] += 1;
            let rest: usize = j[i + 1..].iter().sum::<usize>() - 1;
            for v in &mut j[i + 1..] {
                *v = 0;
            }
            j[k - 1] = rest;
            return true;
        }
        // j[i+1..k-1] are 0 and j[k-1] is 0: move what j[i] holds to the end and look left.
        j[k - 1] = j[i];
        j[i] = 0;
        i = i.wrapping_sub(1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_binomial_formula() {
        assert_eq!(count(7, 50), 32_468_436);
        assert_eq!(count(2, 10), 11);
        assert_eq!(count(3, 4), 15);
        assert_eq!(count(1, 9), 1);
    }

    #[test]
    fn stepping_visits_every_composition_once_in_rank_order() {
        for (k, r) in [(1usize, 5usize), (2, 6), (3, 5), (4, 4), (5, 3)] {
            let mut j = vec![0; k];
            unrank(0, r, &mut j);
            let mut seen = 1u128;
            let mut u = vec![0; k];
            loop {
                assert_eq!(j.iter().sum::<usize>(), r);
                unrank(seen - 1, r, &mut u);
                assert_eq!(u, j, "rank {} (k={k}, r={r})", seen - 1);
                if !next(&mut j) {
                    break;
                }
                seen += 1;
            }
            assert_eq!(seen, count(k, r), "k={k}, r={r}");
        }
    }
}
