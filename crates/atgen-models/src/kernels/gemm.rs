//! A bounds-checked matrix product over `gemm` for the decoder-layer kernel:
//! strided views (a transposed weight is a view, not a copy) and
//! `dst = [dst +] s · A · B` into a row-major slice, so gradients accumulate in
//! place instead of through a temporary and an addition.
#![allow(unsafe_code)]

use candle_core::{bail, Result};

/// A read-only `rows × cols` matrix inside a slice, element `(i, j)` at `i·rs + j·cs`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix filling the start of `data`.
    pub(super) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View::strided(data, rows, cols, cols, 1)
    }

    /// Any strides (checked when used).
    pub(super) fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// The transpose (no copy).
    pub(super) fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Products below this many multiply-adds run on the calling thread.
const PARALLEL_FLOPS: usize = 1 << 18;

/// `dst = s · a · b`, or `dst += s · a · b` when `accumulate`; `dst` is
/// row-major `a.rows × b.cols` with row stride `ld`. `parallel` lets `gemm`
/// split the product over the current rayon pool (leave it off inside a task).
pub(super) fn matmul(
    dst: &mut [f32],
    ld: usize,
    a: View<'_>,
    b: View<'_>,
    s: f32,
    accumulate: bool,
    parallel: bool,
) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || !a.fits() || !b.fits() || ld < n || (m > 0 && (m - 1) * ld + n > dst.len()) {
        bail!(
            "layer kernel: cannot multiply {m}×{k} by {}×{n} into {} values (row stride {ld})",
            b.rows,
            dst.len()
        );
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(ld).for_each(|r| r[..n].fill(0.0));
        }
        return Ok(());
    }
    let par = if parallel && m * n * k >= PARALLEL_FLOPS {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every index the product touches was checked above: `a` and `b`
    // lie within their slices (`fits`), `dst` holds `m` rows of `n` values at
    // stride `ld`, and `dst` is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ld as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            s,
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}
