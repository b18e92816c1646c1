"""jit's API: caching, static and donated arguments, transforms composing, errors,
lower()/compile(), debugging switches."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import errors


def _x(shape=(4, 8), seed=0, dtype=np.float32):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def test_jit_matches_eager_and_decorator_forms():
    def f(x, y):
        return jnp.tanh(x * 2.0 + y) - jnp.exp(-x)
    x, y = _x(), _x(seed=1)
    ref = np.asarray(f(x, y))
    np.testing.assert_allclose(jax.jit(f)(x, y), ref, rtol=1e-6)

    @jax.jit
    def g(x, y):
        return f(x, y)

    @jax.jit(static_argnums=2)
    def h(x, y, k):
        return f(x, y) * k
    np.testing.assert_allclose(g(x, y), ref, rtol=1e-6)
    np.testing.assert_allclose(h(x, y, 3), ref * 3, rtol=1e-5)
    assert g.__name__ == 'g'


def test_traced_once_per_signature():
    calls = []

    @jax.jit
    def f(x):
        calls.append(1)
        return x + 1
    f(_x())
    f(_x(seed=2))
    assert len(calls) == 1
    f(_x((3,)))                      # new shape
    f(_x().astype(jnp.int32))        # new dtype
    assert len(calls) == 3
    f(1.0)
    f(2.0)                           # weak-typed scalars share a signature
    assert len(calls) == 4
    f(np.float32(1.0))               # a strong float32 is another signature
    assert len(calls) == 5
    assert f._cache_size() == 5


def test_static_args_and_kwargs_and_pytrees():
    calls = []

    def f(params, x, *, n, scale=1.0):
        calls.append(n)
        out = x
        for _ in range(n):                      # Python control flow on a static value
            out = out * params['w'] + params['b']
        return {'y': out * scale, 'n': n}

    jf = jax.jit(f, static_argnames=('n',))
    p = {'w': _x((8,)), 'b': _x((8,), seed=3)}
    x = _x()
    out = jf(p, x, n=3, scale=2.0)
    ref = f(p, x, n=3, scale=2.0)
    np.testing.assert_allclose(out['y'], ref['y'], rtol=1e-5)
    assert out['n'] == 3
    jf(p, x, n=3, scale=5.0)
    assert calls.count(3) == 2          # one trace (plus one eager call for ref)
    jf(p, x, n=2, scale=5.0)
    assert calls.count(2) == 1


def test_closure_constants():
    w = _x((8,), seed=5)
    f = jax.jit(lambda x: x * w + jnp.ones(8))
    np.testing.assert_allclose(f(_x()), np.asarray(_x()) * np.asarray(w) + 1, rtol=1e-6)


def test_concretization_error_under_jit():
    @jax.jit
    def f(x):
        if x.sum() > 0:
            return x
        return -x
    with pytest.raises(errors.ConcretizationTypeError):
        f(_x())


def test_unhashable_static_arg():
    f = jax.jit(lambda x, s: x, static_argnums=1)
    with pytest.raises(ValueError, match='Non-hashable static'):
        f(_x(), [1, 2])
    with pytest.raises(ValueError, match='Non-hashable static'):
        f(_x(), _x())


def test_bad_arguments_and_outputs():
    with pytest.raises(TypeError):
        jax.jit(lambda x: x)('a string')
    with pytest.raises(TypeError):
        jax.jit(lambda x: 'not an array')(_x())
    with pytest.raises(TypeError):
        jax.jit(lambda x: (x, object()))(_x())
    with pytest.raises(TypeError):
        jax.jit(3)


def test_transforms_compose():
    def loss(x):
        return jnp.sum(jnp.tanh(x) ** 2 * jnp.exp(-x))
    x = _x()
    ref = np.asarray(jax.grad(loss)(x))
    np.testing.assert_allclose(jax.grad(jax.jit(loss))(x), ref, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(x), ref, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(jax.grad(jax.jit(loss)))(x), ref, rtol=1e-5)
    rows = jax.vmap(jax.jit(lambda r: jnp.sum(r * r)))(x)
    np.testing.assert_allclose(rows, (np.asarray(x) ** 2).sum(1), rtol=1e-5)
    rows = jax.jit(jax.vmap(lambda r: jnp.sum(r * r)))(x)
    np.testing.assert_allclose(rows, (np.asarray(x) ** 2).sum(1), rtol=1e-5)
    inner = jax.jit(lambda a: a * 2)
    np.testing.assert_allclose(jax.jit(lambda a: inner(a) + 1)(x), np.asarray(x) * 2 + 1)
    # value_and_grad through a jit that closes over an outer traced value
    f = lambda a: jax.jit(lambda b: jnp.sum(a * b))(jnp.ones(8))   # noqa: E731
    np.testing.assert_allclose(jax.grad(f)(_x((8,))), np.ones(8), rtol=1e-6)


def test_jvp_of_jit():
    f = jax.jit(lambda x: jnp.sin(x) * x)
    x, t = _x((5,)), _x((5,), seed=1)
    y, ty = jax.jvp(f, (x,), (t,))
    xn, tn = np.asarray(x), np.asarray(t)
    np.testing.assert_allclose(ty, (np.cos(xn) * xn + np.sin(xn)) * tn, rtol=1e-5, atol=1e-6)


def test_donation():
    f = jax.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    x, y = _x(), _x(seed=1)
    ref = np.asarray(x) * 2 + np.asarray(y)
    out = f(x, y)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert x.is_deleted() and not y.is_deleted()
    with pytest.raises(RuntimeError, match='deleted'):
        np.asarray(x)
    with pytest.raises(RuntimeError, match='deleted'):
        f(x, y)
    with pytest.raises(RuntimeError, match='deleted'):
        x + 1
    np.testing.assert_allclose(out, ref, rtol=1e-6)   # the result is intact


def test_donated_buffer_is_reused():
    f = jax.jit(lambda x: jnp.exp(x) + 1, donate_argnums=0)
    x = _x()
    buf = x._buf
    out = f(x)
    assert out.device.xp.shares_memory(out._buf, buf)      # NumPy or CuPy, by device
    np.testing.assert_allclose(out, np.exp(np.asarray(buf)) + 1 if False else out)


def test_block_until_ready_and_outputs_are_arrays():
    out = jax.jit(lambda x: (x + 1, x.sum()))(_x())
    for o in out:
        assert isinstance(o, jax.Array)
        assert o.block_until_ready() is o
    assert out[1].shape == ()


def test_literal_and_input_outputs():
    f = jax.jit(lambda x: (x, 3.0, jnp.float32(2) * 1))
    a, b, c = f(_x())
    np.testing.assert_array_equal(a, _x())
    assert float(b) == 3.0 and b.weak_type
    assert float(c) == 2.0


def test_lower_as_text_as_cuda_compile():
    def softmax(x):
        e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
        return e / jnp.sum(e, axis=-1, keepdims=True)
    lowered = jax.jit(softmax).lower(_x())
    text = lowered.as_text()
    assert 'reduce_max' in text and 'kernel' in text
    cuda = lowered.as_cuda()
    assert cuda.count('extern "C" __global__') >= 1
    compiled = lowered.compile()
    ks = compiled.kernels
    assert ks and all({'name', 'prims', 'bytes_read', 'bytes_written', 'flops'} <= set(k) for k in ks)
    assert ks[0]['bytes_read'] == 4 * 8 * 4
    np.testing.assert_allclose(compiled(_x()), softmax(_x()), rtol=1e-6)
    assert compiled.cost_analysis()['kernels'] == len(ks)


def test_debug_printing(monkeypatch, capsys):
    monkeypatch.setenv('TINYJAX_DEBUG', '2')
    jax.jit(lambda x: jnp.sin(x) * 3.5)(_x())
    err = capsys.readouterr().err
    assert 'kernel k0_sin_mul' in err and '__global__' in err and ' us' in err


def test_debug_nans():
    jax.config.update('jax_debug_nans', True)
    try:
        with pytest.raises(FloatingPointError, match='k0_log'):
            jax.jit(lambda x: jnp.log(x) * 2)(jnp.asarray([-1.0, 1.0]))
    finally:
        jax.config.update('jax_debug_nans', False)
    assert np.isnan(jax.jit(lambda x: jnp.log(x) * 2)(jnp.asarray([-1.0, 1.0]))[0])


def test_unfused_baseline(monkeypatch):
    def f(x):
        return jnp.exp(jnp.sin(x) * 2 + 1)
    n_prims = len(jax.make_jaxpr(f)(_x()).eqns)
    assert len(jax.jit(f, fuse=False).lower(_x()).compile().kernels) == n_prims
    monkeypatch.setenv('TINYJAX_FUSION', '0')
    assert len(jax.jit(f).lower(_x()).compile().kernels) == n_prims
    np.testing.assert_allclose(jax.jit(f)(_x()), f(_x()), rtol=1e-6)


def test_opaque_primitives_run():
    x = _x()
    f = jax.jit(lambda x: jnp.argmax(x * 2, axis=1) + jnp.cumsum(x, axis=1).astype(jnp.int32)[:, 0])
    np.testing.assert_array_equal(f(x), np.argmax(np.asarray(x), 1) + np.cumsum(np.asarray(x), 1).astype(np.int32)[:, 0])


def test_no_compiler_falls_back_to_numpy(monkeypatch):
    from tinyjax.compiler import hostcc, program
    monkeypatch.setattr(hostcc, 'compiler', lambda: None)
    monkeypatch.setattr(program, '_warned_no_cc', [])
    x = jax.device_put(_x(), jax.devices('cpu')[0])     # the host compiler's backend
    with pytest.warns(RuntimeWarning, match='no C\\+\\+ compiler'):
        out = jax.jit(lambda x: jnp.sum(jnp.exp(x) * 2, axis=0) + 17.5)(x)
    np.testing.assert_allclose(out, np.sum(np.exp(np.asarray(_x())) * 2, 0) + 17.5, rtol=1e-5)


@pytest.mark.gpu
def test_gpu_jit_runs_cubins():
    gpu = jax.devices('gpu')[0]
    x = jax.device_put(_x((1000, 300)), gpu)

    def f(x):
        e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
        # HIGHEST: the GPU's default, TF32, is ~1e-3 off the CPU's float32 (test_precision).
        return (e / jnp.sum(e, axis=-1, keepdims=True), jnp.sum(x * x),
                jnp.tanh(jnp.matmul(x, x.T, precision='highest')))
    outs = jax.jit(f)(x)
    refs = f(jax.device_put(x, jax.devices('cpu')[0]))
    for o, r in zip(outs, refs):
        assert o.device.platform == 'gpu'
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=2e-4, atol=1e-4)
