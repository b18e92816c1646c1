"""The jit call path: the direct cache of repeat calls and the host kernel launcher."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.compiler import hostcc, program


def _x(n=1000, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def test_repeat_calls_use_the_direct_cache_and_stay_correct():
    f = jax.jit(lambda x, y: (x * 2 + y, jnp.sin(x)))
    x, y = _x(), _x(seed=1)
    for _ in range(3):
        a, b = f(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(np.asarray(a), x * 2 + y, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(b), np.sin(x), rtol=1e-6, atol=1e-7)
    assert len(f._direct) == 1 and f._cache_size() == 1
    # A new shape, dtype or weak type is a new entry, never a wrong reuse.
    a, _ = f(jnp.asarray(x[:10]), jnp.asarray(y[:10]))
    np.testing.assert_allclose(np.asarray(a), x[:10] * 2 + y[:10], rtol=1e-6)
    a, _ = f(jnp.asarray(x.astype(np.float16)), jnp.asarray(y.astype(np.float16)))
    assert a.dtype == np.float16
    assert len(f._direct) == 3


def test_single_output_is_returned_bare():
    f = jax.jit(lambda x: x + 1)
    x = jnp.arange(4.0)
    f(x)
    out = f(x)
    assert isinstance(out, jax.Array)
    np.testing.assert_array_equal(np.asarray(out), [1, 2, 3, 4])
    g = jax.jit(lambda x: [x])
    g(x)
    assert isinstance(g(x), list)


def test_deleted_argument_raises_on_the_fast_path():
    f = jax.jit(lambda x: x + 1)
    x = jnp.ones(3)
    f(x)
    x.delete()
    with pytest.raises(RuntimeError, match='deleted'):
        f(x)


def test_x64_switch_retraces():
    f = jax.jit(lambda x: x + jnp.arange(3))
    x = jnp.ones(3, dtype=jnp.int32)
    assert f(x).dtype == np.int32
    jax.config.update('jax_enable_x64', True)
    try:
        assert f(x).dtype == np.int64
    finally:
        jax.config.update('jax_enable_x64', False)
    assert f(x).dtype == np.int32


@pytest.fixture
def two_cpu_devices():
    jax.config.update('jax_num_cpu_devices', 2)
    yield jax.devices('cpu')
    jax.config.update('jax_num_cpu_devices', 1)


def test_arrays_on_another_device_run_there(two_cpu_devices):
    devs = two_cpu_devices
    f = jax.jit(lambda x: x * 3)
    a = jax.device_put(jnp.arange(3.0), devs[0])
    b = jax.device_put(jnp.arange(3.0), devs[1])
    for _ in range(2):
        ra, rb = f(a), f(b)
        assert ra.devices() == {devs[0]} and rb.devices() == {devs[1]}
        np.testing.assert_array_equal(np.asarray(rb), [0, 3, 6])


def test_tracers_skip_the_direct_cache():
    f = jax.jit(lambda x: jnp.sin(x) * x)
    x = jnp.asarray(0.7)
    f(x)
    f(x)
    np.testing.assert_allclose(jax.grad(f)(x), np.cos(0.7) * 0.7 + np.sin(0.7), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(f)(jnp.asarray([0.7, 0.1])),
                               np.sin([0.7, 0.1]) * np.array([0.7, 0.1]), rtol=1e-6)


# -- the host launcher ----------------------------------------------------------------------

needs_cc = pytest.mark.skipif(hostcc.compiler() is None, reason='no C++ compiler')


@needs_cc
def test_launcher_builds_and_checks_its_arguments():
    launch = hostcc.launcher(wait=True)
    assert launch is not None and hostcc.launch_slot[0] is launch
    with pytest.raises(TypeError, match='argument 0 is list'):
        launch(1, [[1.0]], ())
    with pytest.raises(ValueError, match='argument 1 is not C-contiguous'):
        launch(1, [np.zeros(4), np.zeros((4, 4))[:, 0]], ())
    with pytest.raises(TypeError, match='launch\\(address'):
        launch(1, (np.zeros(4),), ())


@needs_cc
def test_many_inputs_and_the_ctypes_fallback_agree(monkeypatch):
    # 40 operands: more pointers than the launcher keeps on its stack.
    xs = [_x(257, seed=s) for s in range(40)]

    def f(*args):
        acc = args[0]
        for k, a in enumerate(args[1:]):
            acc = acc + a * (k + 1)
        return acc

    expected = xs[0] + sum(a * (k + 1) for k, a in enumerate(xs[1:]))
    got = jax.jit(f)(*[jnp.asarray(a) for a in xs])
    assert len(jax.jit(f).lower(*[jnp.asarray(a) for a in xs]).program.kernels) == 1
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-4)
    monkeypatch.setattr(hostcc, 'launch_slot', [None])
    monkeypatch.setenv('TINYJAX_HOST_LAUNCHER', '0')      # the ctypes path
    got = jax.jit(f)(*[jnp.asarray(a) for a in xs])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-4)


@needs_cc
def test_int64_index_kernels_get_their_scalar(monkeypatch):
    # A kernel's element count is its one scalar; both launch paths pass it as the C type
    # the kernel declares (int here; long long when a size needs 64 bits).
    x = np.arange(1 << 12, dtype=np.int32)
    for fallback in (False, True):
        if fallback:
            monkeypatch.setattr(hostcc, 'launch_slot', [None])
            monkeypatch.setenv('TINYJAX_HOST_LAUNCHER', '0')
        out = jax.jit(lambda v: v * 3 - 1)(jnp.asarray(x))
        np.testing.assert_array_equal(np.asarray(out), x * 3 - 1)


def test_step_hook_and_debug_nans_use_the_instrumented_loop():
    jax.config.update('jax_debug_nans', True)
    try:
        f = jax.jit(lambda x: jnp.log(x) + 1)
        f(jnp.asarray([1.0, 2.0]))
        with pytest.raises(FloatingPointError, match='log'):
            f(jnp.asarray([-1.0, 2.0]))
    finally:
        jax.config.update('jax_debug_nans', False)
    assert program.step_hook is None


def test_matmul_precision_switch_is_not_served_from_the_direct_cache():
    f = jax.jit(lambda a, b: a @ b)
    a = jnp.ones((4, 4))
    f(a, a)
    f(a, a)
    with jax.default_matmul_precision('highest'):
        np.testing.assert_array_equal(np.asarray(f(a, a)), np.full((4, 4), 4.0))
    assert len(f._direct) == 2 and f._cache_size() == 2
    text = str(f.trace(a, a))
    assert 'precision' not in text
    with jax.default_matmul_precision('highest'):
        assert 'Precision.HIGHEST' in str(f.trace(a, a))


@needs_cc
def test_cold_start_does_not_wait_for_the_launcher(tmp_path, monkeypatch):
    # An empty cache: the first program runs (through ctypes) while the launcher builds.
    import subprocess
    import sys
    code = ('import numpy as np, tinyjax as jax, tinyjax.numpy as jnp\n'
            'from tinyjax.compiler import hostcc\n'
            'out = jax.jit(lambda v: v * 2 + 1)(jnp.arange(5.0))\n'
            'print(hostcc.launch_slot[0] is None, np.asarray(out).tolist())\n'
            'hostcc.launcher(wait=True)\n'
            'print(hostcc.launch_slot[0] is None, np.asarray(jax.jit(lambda v: v - 1)(out)).tolist())\n')
    env = dict(__import__('os').environ, TINYJAX_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split('\n')[:2] == ['True [1.0, 3.0, 5.0, 7.0, 9.0]',
                                          'False [0.0, 2.0, 4.0, 6.0, 8.0]']


def test_pytree_arguments_use_the_direct_cache():
    f = jax.jit(lambda params, batch: (sum(w.sum() * b for w, b in params) + batch['x'].sum(),
                                       batch['y'] is None))
    params = [(jnp.ones((2, 3)), jnp.asarray(2.0)), (jnp.ones(4), jnp.asarray(-1.0))]
    batch = {'x': jnp.arange(3.0), 'y': None}
    for _ in range(3):
        out, flag = f(params, batch)
        assert float(out) == 11 and bool(flag) is True
    assert len(f._direct) == 1 and f._cache_size() == 1
    # Another structure, or the same structure with other shapes, is another entry.
    out, _ = f(params[:1], batch)
    assert float(out) == 15
    out, _ = f(params, {'x': jnp.arange(4.0), 'y': None})
    assert float(out) == 14
    assert len(f._direct) == 3


def test_pytree_direct_cache_refuses_what_it_cannot_key():
    import collections
    Pair = collections.namedtuple('Pair', 'a b')
    f = jax.jit(lambda p: p.a * 2 + p.b if isinstance(p, tuple) else p)
    for _ in range(2):
        assert float(f(Pair(jnp.asarray(1.0), jnp.asarray(3.0)))) == 5.0
    assert not f._direct                        # a namedtuple: the general path
    g = jax.jit(lambda t: t[0] + t[1])
    t = (jnp.ones(2), jnp.ones(2))
    g(t)
    g(t)
    t[1].delete()
    with pytest.raises(RuntimeError, match='deleted'):
        g(t)
    assert float(g((jnp.ones(2), 3.0))[0]) == 4.0      # a Python scalar leaf
