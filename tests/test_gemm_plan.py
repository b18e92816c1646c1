"""The cuBLAS call plan for dot_general (tinyjax/ops/gemm.py), checked on the CPU by
running the plan's column-major arguments through a NumPy model of cuBLAS."""
import itertools

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import gemm


def _case(rng, batch, m, n, k, l_contract_last, r_contract_first, dtype):
    lshape = batch + ((m, k) if l_contract_last else (k, m))
    rshape = batch + ((k, n) if r_contract_first else (n, k))
    nb = len(batch)
    dn = (((nb + 1 if l_contract_last else nb,), (nb if r_contract_first else nb + 1,)),
          (tuple(range(nb)), tuple(range(nb))))
    lhs = rng.standard_normal(lshape).astype(dtype)
    rhs = rng.standard_normal(rshape).astype(dtype)
    return lhs, rhs, dn


@pytest.mark.parametrize('batch', [(), (3,), (2, 3)])
@pytest.mark.parametrize('l_last,r_first', list(itertools.product([True, False], repeat=2)))
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_plan_computes_dot_general(batch, l_last, r_first, dtype):
    rng = np.random.default_rng(len(batch) * 4 + 2 * l_last + r_first)
    lhs, rhs, dn = _case(rng, batch, 5, 7, 3, l_last, r_first, dtype)
    g = gemm.plan(ShapedArray(lhs.shape, dtype), ShapedArray(rhs.shape, dtype), dn)
    assert g is not None
    got = gemm.reference(g, rhs.ravel(), lhs.ravel())
    cpu = jax.devices('cpu')[0]     # on a GPU, float32 products default to TF32
    want = np.asarray(lax.dot_general(jnp.asarray(lhs, device=cpu), jnp.asarray(rhs, device=cpu), dn))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_mlp_layouts_need_no_transpose_copy():
    # x @ w, its transpose rules g @ w.T and x.T @ g: all one call with op flags.
    f32 = np.float32
    x, w, gr = ShapedArray((128, 784), f32), ShapedArray((784, 512), f32), ShapedArray((128, 512), f32)
    assert gemm.plan(x, w, (((1,), (0,)), ((), ()))).transa == gemm.OP_N
    assert gemm.plan(gr, w, (((1,), (1,)), ((), ()))).transa == gemm.OP_T
    assert gemm.plan(x, gr, (((0,), (0,)), ((), ()))).transb == gemm.OP_T


def test_layouts_it_leaves_to_the_general_rule():
    f32 = np.float32
    a, b = ShapedArray((4, 3), f32), ShapedArray((3, 5), f32)
    assert gemm.plan(a, ShapedArray((3, 5), np.float64), (((1,), (0,)), ((), ()))) is None
    assert gemm.plan(a, b, (((1,), (0,)), ((), ())), preferred_element_type=np.float64) is None
    assert gemm.plan(ShapedArray((4, 1), f32), ShapedArray((1, 5), f32),
                     (((1,), (0,)), ((), ()))) is None                # outer product
    assert gemm.plan(ShapedArray((4, 3), np.int32), ShapedArray((3, 5), np.int32),
                     (((1,), (0,)), ((), ()))) is None
    # batch axis not leading, two contracting axes, a vector operand
    assert gemm.plan(ShapedArray((4, 2, 3), f32), ShapedArray((2, 3, 5), f32),
                     (((2,), (1,)), ((1,), (0,)))) is None
    assert gemm.plan(ShapedArray((4, 2, 3), f32), ShapedArray((2, 3, 5), f32),
                     (((1, 2), (0, 1)), ((), ()))) is None
    assert gemm.plan(ShapedArray((3,), f32), b, (((0,), (0,)), ((), ()))) is None
    assert gemm.plan(ShapedArray((0, 3), f32), b, (((1,), (0,)), ((), ()))) is None


@pytest.mark.gpu
@pytest.mark.parametrize('l_last,r_first', list(itertools.product([True, False], repeat=2)))
def test_gpu_prepared_gemm_matches_numpy(l_last, r_first, x64):
    # x64: without it the float64 case runs in float32, and 1e-12 would ask the GPU's
    # summation order to match the CPU BLAS's bit for bit
    rng = np.random.default_rng(7)
    for batch, dtype, tol in (((), np.float64, 1e-12), ((3,), np.float32, 1e-5)):
        lhs, rhs, dn = _case(rng, batch, 65, 33, 17, l_last, r_first, dtype)
        f = jax.jit(lambda a, b: lax.dot_general(a, b, dn, precision='highest'))
        got = np.asarray(f(jnp.asarray(lhs), jnp.asarray(rhs)))
        want = np.asarray(lax.dot_general(jnp.asarray(lhs, device=jax.devices('cpu')[0]),
                                          jnp.asarray(rhs, device=jax.devices('cpu')[0]), dn))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_prepared_rules_are_built_with_the_programs_device_current(monkeypatch):
    """gemm_call reads the current GPU's compute capability (and CuPy's cuBLAS handle is
    the current GPU's), so a Program builds its steps inside its device's context; with
    two GPUs a plan built for device 1 must not see device 0. Checked on the CPU device
    with a recording context."""
    import contextlib
    from tinyjax.ops.dot_general import dot_general_p
    dev = jax.devices('cpu')[0]
    inside, seen = [], []

    @contextlib.contextmanager
    def context():
        inside.append(True)
        try:
            yield
        finally:
            inside.pop()

    prepare = dot_general_p.prepare

    def recording_prepare(*args, **kwargs):
        seen.append(bool(inside))
        return prepare(*args, **kwargs)
    monkeypatch.setattr(dev, 'context', context)
    monkeypatch.setattr(dot_general_p, 'prepare', recording_prepare)
    a = jnp.asarray(np.ones((3, 4), np.float32), device=dev)
    out = jax.jit(lambda x: x @ x.T + 1)(a)
    np.testing.assert_allclose(np.asarray(out), np.full((3, 3), 5.0))
    assert seen == [True]
