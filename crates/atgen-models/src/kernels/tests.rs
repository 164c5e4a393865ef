//! Values and gradients of every kernel against the composed differentiable ops.

use super::*;
use crate::rng::SeededRng;
use crate::Result;
use candle_core::{Device, Var, D};

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.max_all())
        .and_then(|d| d.to_scalar::<f32>())
        .unwrap_or(f32::MAX)
}

fn normal(rng: &mut SeededRng, shape: &[usize]) -> Tensor {
    rng.normal(shape, 1.0, &Device::Cpu)
        .and_then(|t| Ok(Var::from_tensor(&t)?.as_tensor().clone()))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Checks values and the gradients of every input against the composed version,
/// under a random linear functional of the output (so every output element matters).
fn check(
    inputs: &[Tensor],
    fused: impl Fn(&[Tensor]) -> Result<Tensor>,
    composed: impl Fn(&[Tensor]) -> Result<Tensor>,
    tol: f32,
) -> Result<()> {
    let yf = fused(inputs)?;
    let yc = composed(inputs)?;
    assert_eq!(yf.dims(), yc.dims());
    assert!(
        max_diff(&yf, &yc) < tol,
        "values differ by {}",
        max_diff(&yf, &yc)
    );
    let probe = SeededRng::new(99).normal(yf.dims(), 1.0, &Device::Cpu)?;
    let gf = (&yf * &probe)?.sum_all()?.backward()?;
    let gc = (&yc * &probe)?.sum_all()?.backward()?;
    for (i, x) in inputs.iter().enumerate() {
        let (a, b) = (gf.get(x), gc.get(x));
        let (Some(a), Some(b)) = (a, b) else {
            panic!("input {i}: missing gradient");
        };
        let d = max_diff(a, b);
        assert!(d < tol, "input {i}: gradients differ by {d}");
    }
    Ok(())
}

#[test]
fn frozen_matmul_matches_matmul_and_skips_the_weight() -> Result<()> {
    let mut rng = SeededRng::new(0);
    let x = normal(&mut rng, &[7, 5]);
    let w = rng.normal(&[3, 5], 1.0, &Device::Cpu)?;
    let y = frozen_matmul_t(&x, &w)?;
    assert!(max_diff(&y, &x.matmul(&w.t()?)?) < 1e-5);
    let probe = rng.normal(&[7, 3], 1.0, &Device::Cpu)?;
    let g = (&y * &probe)?.sum_all()?.backward()?;
    let expected = probe.matmul(&w)?;
    assert!(g.get(&x).is_some_and(|gx| max_diff(gx, &expected) < 1e-5));
    assert!(g.get(&w).is_none(), "a frozen weight must get no gradient");
    Ok(())
}

#[test]
fn lora_linear_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(7);
    let x = normal(&mut rng, &[2, 3, 6]);
    let a = normal(&mut rng, &[4, 6]);
    let b = normal(&mut rng, &[5, 4]);
    let w = rng.normal(&[5, 6], 1.0, &Device::Cpu)?;
    check(
        &[x, a, b],
        |t| Ok(lora_linear(&t[0], &w, &t[1], &t[2], 0.5)?),
        |t| {
            let base = t[0].broadcast_matmul(&w.t()?)?;
            let d = t[0]
                .broadcast_matmul(&t[1].t()?)?
                .broadcast_matmul(&t[2].t()?)?;
            Ok((base + (d * 0.5)?)?)
        },
        1e-5,
    )
}

#[test]
fn split_heads_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(8);
    let (b, t, heads, rep, d) = (2, 5, 2, 3, 8);
    let x = normal(&mut rng, &[b, t, heads * d]);
    let w = rng.normal(&[d], 1.0, &Device::Cpu)?;
    let pos = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 0, 0, 1, 2, 3], (b, t), &Device::Cpu)?;
    let (cos, sin) = crate::ops::rope_tables(&pos, &[1.0, 0.3, 0.01, 0.001], &Device::Cpu)?;
    let rope = RopeTables {
        cos: Arc::new(cos.flatten_all()?.to_vec1::<f32>()?),
        sin: Arc::new(sin.flatten_all()?.to_vec1::<f32>()?),
    };
    let norm = HeadNorm {
        weight: Arc::new(w.to_vec1::<f32>()?),
        eps: 1e-6,
    };
    check(
        std::slice::from_ref(&x),
        |x| {
            Ok(split_heads(
                &x[0],
                heads,
                rep,
                Some(norm.clone()),
                Some(rope.clone()),
            )?)
        },
        |x| {
            let h = x[0].reshape((b, t, heads, d))?;
            let h = crate::ops::rms_norm_composed(&h, &w, 1e-6)?;
            let h = crate::ops::apply_rope_composed(&h.transpose(1, 2)?, &cos, &sin)?;
            Ok(h.unsqueeze(2)?
                .expand((b, heads, rep, t, d))?
                .reshape((b, heads * rep, t, d))?)
        },
        1e-5,
    )?;
    // Without norm and rotary: a plain split and repeat (the values path).
    check(
        &[x],
        |x| Ok(split_heads(&x[0], heads, rep, None, None)?),
        |x| {
            Ok(x[0]
                .reshape((b, t, heads, d))?
                .transpose(1, 2)?
                .unsqueeze(2)?
                .expand((b, heads, rep, t, d))?
                .reshape((b, heads * rep, t, d))?)
        },
        1e-6,
    )
}

/// The norm's weight gradient and the loss, bit for bit, in rayon pools of 1, 2 and 3
/// threads: sums over rows must not depend on how the work was split (same seed, same run).
#[test]
fn norm_weight_gradient_and_loss_are_the_same_bits_whatever_the_thread_count() -> Result<()> {
    let run = |threads: usize| -> Result<(Vec<f32>, f32)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        pool.install(|| {
            let mut rng = SeededRng::new(5);
            let x = normal(&mut rng, &[4, 333, 48]);
            let w = normal(&mut rng, &[48]);
            let y = rms_norm(&x, &w, 1e-6)?.reshape((4 * 333, 48))?;
            let labels: Vec<u32> = (0..4 * 333).map(|i| (i * 7 % 48) as u32).collect();
            let loss = weighted_nll(&y, labels, vec![1.0; 4 * 333])?;
            let grads = loss.backward()?;
            let gw = grads
                .get(&w)
                .ok_or_else(|| candle_core::Error::Msg("no gradient for w".into()))?;
            Ok((gw.to_vec1::<f32>()?, loss.to_scalar::<f32>()?))
        })
    };
    let (one, loss1) = run(1)?;
    for threads in [2, 3] {
        let (many, loss) = run(threads)?;
        let same = one
            .iter()
            .zip(&many)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{threads} threads: another weight gradient");
        assert_eq!(
            loss1.to_bits(),
            loss.to_bits(),
            "{threads} threads: another loss"
        );
    }
    Ok(())
}

#[test]
fn rms_norm_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(1);
    let x = normal(&mut rng, &[2, 3, 8]);
    let w = normal(&mut rng, &[8]);
    check(
        &[x, w],
        |t| Ok(rms_norm(&t[0], &t[1], 1e-6)?),
        |t| crate::ops::rms_norm_composed(&t[0], &t[1], 1e-6),
        1e-5,
    )
}

#[test]
fn rope_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(2);
    let (b, t, h, d) = (2, 5, 3, 8);
    let x = normal(&mut rng, &[b, t, h, d]);
    let pos = Tensor::from_vec(vec![0u32, 1, 2, 3, 4, 0, 0, 1, 2, 3], (b, t), &Device::Cpu)?;
    let (cos, sin) = crate::ops::rope_tables(&pos, &[1.0, 0.3, 0.01, 0.001], &Device::Cpu)?;
    let c = Arc::new(cos.flatten_all()?.to_vec1::<f32>()?);
    let s = Arc::new(sin.flatten_all()?.to_vec1::<f32>()?);
    check(
        &[x],
        |x| Ok(rope_transposed(&x[0], &c, &s)?),
        |x| crate::ops::apply_rope_composed(&x[0].transpose(1, 2)?, &cos, &sin),
        1e-5,
    )
}

#[test]
fn masked_softmax_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(3);
    let x = normal(&mut rng, &[2, 3, 4, 6]);
    let valid = vec![vec![false, true, true, true, true, true], vec![true; 6]];
    let mask = crate::ops::attention_mask(&valid, 4, None, &Device::Cpu)?;
    let m = Arc::new(mask.flatten_all()?.to_vec1::<f32>()?);
    check(
        &[x],
        |x| Ok(masked_softmax(&x[0], &m, 0.125)?),
        |x| {
            Ok(candle_nn::ops::softmax(
                &(&x[0] * 0.125)?.broadcast_add(&mask)?,
                D::Minus1,
            )?)
        },
        1e-5,
    )
}

#[test]
fn swiglu_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(4);
    let a = normal(&mut rng, &[3, 7]);
    let u = normal(&mut rng, &[3, 7]);
    check(
        &[a, u],
        |t| Ok(swiglu(&t[0], &t[1])?),
        |t| Ok((candle_nn::ops::silu(&t[0])? * &t[1])?),
        1e-5,
    )
}

#[test]
fn swiglu_halves_matches_swiglu_of_the_halves() -> Result<()> {
    let mut rng = SeededRng::new(5);
    let gu = normal(&mut rng, &[2, 3, 14]);
    let expected = swiglu(&gu.narrow(D::Minus1, 0, 7)?, &gu.narrow(D::Minus1, 7, 7)?)?;
    let got = swiglu_halves(&gu)?;
    assert_eq!(got.dims(), &[2, 3, 7]);
    assert!(max_diff(&got, &expected) == 0.0);
    assert!(swiglu_halves(&normal(&mut rng, &[2, 5])).is_err());
    Ok(())
}

#[test]
fn weighted_nll_gradients_match_composed() -> Result<()> {
    let mut rng = SeededRng::new(5);
    let z = normal(&mut rng, &[4, 9]);
    let labels = vec![3u32, 0, 8, 2];
    let weights = vec![0.25f32, 0.0, 0.5, 0.25];
    let (l2, w2) = (labels.clone(), weights.clone());
    check(
        &[z],
        move |z| Ok(weighted_nll(&z[0], labels.clone(), weights.clone())?),
        move |z| {
            let logp = candle_nn::ops::log_softmax(&z[0], D::Minus1)?;
            let lab = Tensor::from_vec(l2.clone(), (4, 1), &Device::Cpu)?;
            let w = Tensor::from_vec(w2.clone(), 4, &Device::Cpu)?;
            Ok((logp.gather(&lab, 1)?.squeeze(1)? * w)?.sum_all()?.neg()?)
        },
        1e-5,
    )
}

#[test]
fn head_logit_rows_match_the_matmul_for_any_row_count() -> Result<()> {
    let mut rng = SeededRng::new(5);
    // 200 is not a multiple of the 64-column blocks; the transposed head is
    // a strided view.
    let w = rng.normal(&[200, 24], 1.0, &Device::Cpu)?;
    let wt = rng.normal(&[24, 200], 1.0, &Device::Cpu)?;
    for rows in [0, 1, 3, 16, 70] {
        let x = rng.normal(&[rows, 24], 1.0, &Device::Cpu)?;
        for head in [w.clone(), wt.t()?] {
            let got = head_logit_rows(&x, &head)?;
            let want = x.matmul(&head.t()?)?.to_vec2::<f32>()?;
            assert_eq!(got.len(), rows);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.len(), 200);
                for (a, b) in g.iter().zip(w) {
                    assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
                }
            }
        }
    }
    let x = rng.normal(&[2, 23], 1.0, &Device::Cpu)?;
    assert!(head_logit_rows(&x, &w).is_err());
    Ok(())
}

#[test]
fn residual_add_matches_add_small_and_large() -> Result<()> {
    let mut rng = SeededRng::new(6);
    for shape in [[2, 3, 8], [4, 130, 256]] {
        let x = rng.normal(&shape, 1.0, &Device::Cpu)?;
        let h = rng.normal(&shape, 1.0, &Device::Cpu)?;
        let y = residual_add(&x, &h)?;
        assert_eq!(y.dims(), &shape);
        assert_eq!(max_diff(&y, &(&x + &h)?), 0.0);
        // A strided input is made contiguous first.
        let yt = residual_add(&x.transpose(1, 2)?, &h.transpose(1, 2)?)?;
        assert_eq!(max_diff(&yt, &(&x + &h)?.transpose(1, 2)?), 0.0);
    }
    let x = rng.normal(&[2, 3], 1.0, &Device::Cpu)?;
    assert!(residual_add(&x, &x.t()?).is_err());
    Ok(())
}

#[test]
fn split_heads_reads_a_view_of_the_fused_projection_in_place() -> Result<()> {
    let mut rng = SeededRng::new(7);
    let (b, t, d) = (2, 3, 4);
    // Fused q (2 heads) | k (1 head) | v (1 head) output, as in a decode step.
    let fused = rng.normal(&[b, t, 4 * d], 1.0, &Device::Cpu)?;
    let cos = rng
        .normal(&[b * t * d / 2], 1.0, &Device::Cpu)?
        .to_vec1::<f32>()?;
    let sin = rng
        .normal(&[b * t * d / 2], 1.0, &Device::Cpu)?
        .to_vec1::<f32>()?;
    let rope = RopeTables {
        cos: Arc::new(cos),
        sin: Arc::new(sin),
    };
    let norm = HeadNorm {
        weight: Arc::new(vec![0.5, 1.0, 1.5, 2.0]),
        eps: 1e-6,
    };
    for (at, heads, rep) in [(0, 2, 1), (2 * d, 1, 2), (3 * d, 1, 1)] {
        let view = fused.narrow(2, at, heads * d)?;
        assert!(!view.is_contiguous());
        let got = split_heads(&view, heads, rep, Some(norm.clone()), Some(rope.clone()))?;
        let want = split_heads(
            &view.contiguous()?,
            heads,
            rep,
            Some(norm.clone()),
            Some(rope.clone()),
        )?;
        assert_eq!(got.dims(), &[b, heads * rep, t, d]);
        assert_eq!(max_diff(&got, &want), 0.0);
    }
    Ok(())
}

#[test]
fn head_nll_normed_matches_norm_narrow_then_head_nll() -> Result<()> {
    let mut rng = SeededRng::new(8);
    let (b, t, k, v, start, len) = (2, 6, 8, 11, 2, 3);
    let x = normal(&mut rng, &[b, t, k]);
    let norm = (rng.normal(&[k], 0.3, &Device::Cpu)? + 1.0)?;
    let w = rng.normal(&[v, k], 1.0, &Device::Cpu)?;
    let labels: Vec<u32> = vec![3, 0, 10, 7, 7, 1];
    // One padded answer row (weight 0) in the first sequence.
    let weights: Vec<f32> = vec![0.0, 0.2, 0.2, 0.2, 0.2, 0.2];
    let eps = 1e-6;
    check(
        std::slice::from_ref(&x),
        |x| {
            Ok(head_nll_normed(
                &x[0],
                &norm,
                eps,
                start,
                len,
                &w,
                labels.clone(),
                weights.clone(),
            )?)
        },
        |x| {
            let ms = x[0].sqr()?.mean_keepdim(D::Minus1)?;
            let h = x[0]
                .broadcast_div(&(ms + eps)?.sqrt()?)?
                .broadcast_mul(&norm)?;
            let rows = h.narrow(1, start, len)?.reshape((b * len, k))?;
            Ok(head_nll(&rows, &w, labels.clone(), weights.clone())?)
        },
        1e-4,
    )?;
    let bad = head_nll_normed(&x, &norm, eps, 4, 3, &w, labels.clone(), weights.clone());
    assert!(bad.is_err(), "positions past the sequence must be refused");
    Ok(())
}
