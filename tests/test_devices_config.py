"""Devices, config options and zero-copy exchange with other array libraries."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import backends


def _run(code, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ('TINYJAX_PLATFORM', 'JAX_PLATFORMS', 'JAX_ENABLE_X64')}
    full.update(env)
    full['PYTHONPATH'] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(tinyjax.__file__)), full.get('PYTHONPATH', '')])
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=full, timeout=120)


def test_devices_on_cpu_machine():
    if backends.cuda.gpu_count():
        pytest.skip('this machine has a GPU')
    assert tinyjax.default_backend() == 'cpu'
    devs = tinyjax.devices()
    assert len(devs) == 1 and devs[0].platform == 'cpu' and devs[0].id == 0
    assert tinyjax.device_count() == tinyjax.local_device_count() == 1
    assert tinyjax.local_devices() == devs
    assert tinyjax.devices('cpu') == devs
    x = jnp.ones(3)
    assert x.device is devs[0] and x.devices() == {devs[0]}


def test_unknown_backend_raises():
    with pytest.raises(RuntimeError):
        tinyjax.devices('tpu')


def test_num_cpu_devices():
    try:
        tinyjax.config.update('jax_num_cpu_devices', 4)
        devs = tinyjax.devices('cpu')
        assert [d.id for d in devs] == [0, 1, 2, 3]
        assert tinyjax.device_count('cpu') == 4
    finally:
        tinyjax.config.update('jax_num_cpu_devices', 1)
    assert tinyjax.device_count('cpu') == 1


def test_config_unknown_option_raises():
    with pytest.raises(AttributeError, match='jax_not_an_option'):
        tinyjax.config.update('jax_not_an_option', True)
    with pytest.raises(AttributeError):
        tinyjax.config.jax_not_an_option


def test_enable_x64_changes_default_dtypes():
    assert not tinyjax.config.jax_enable_x64
    assert jnp.arange(3).dtype == np.int32
    assert jnp.zeros(3).dtype == np.float32
    assert jnp.asarray(np.arange(3.0)).dtype == np.float32
    try:
        tinyjax.config.update('jax_enable_x64', True)
        assert tinyjax.config.jax_enable_x64 and tinyjax.config.read('jax_enable_x64')
        assert jnp.arange(3).dtype == np.int64
        assert jnp.zeros(3).dtype == np.float64
        assert jnp.asarray(np.arange(3.0)).dtype == np.float64
        assert (jnp.ones(2) + 1).dtype == np.float64
    finally:
        tinyjax.config.update('jax_enable_x64', False)
    assert jnp.zeros(3).dtype == np.float32


def test_env_vars_in_subprocess():
    r = _run('import tinyjax, tinyjax.numpy as jnp; '
             'print(tinyjax.default_backend(), tinyjax.devices()[0].platform, jnp.zeros(1).dtype)',
             TINYJAX_PLATFORM='cpu', JAX_ENABLE_X64='1')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['cpu', 'cpu', 'float64']
    r = _run('import tinyjax; tinyjax.default_backend()', TINYJAX_PLATFORM='tpu')
    assert r.returncode != 0 and 'TINYJAX_PLATFORM' in r.stderr


def test_device_put_get_block():
    dev = tinyjax.devices()[0]
    x = tinyjax.device_put(np.arange(4.0))
    assert isinstance(x, tinyjax.Array) and x.dtype == np.float32 and x.device is dev
    assert tinyjax.device_put(x, dev) is x
    tree = tinyjax.device_put({'a': np.ones(2), 'b': [1.0, np.int64(3)]})
    assert all(isinstance(v, tinyjax.Array) for v in tinyjax.tree_leaves(tree))
    host = tinyjax.device_get(tree)
    assert isinstance(host['a'], np.ndarray)
    np.testing.assert_array_equal(host['a'], np.ones(2, np.float32))
    assert tinyjax.device_get(3) == 3
    y = x * 2
    assert tinyjax.block_until_ready(y) is y
    assert y.block_until_ready() is y
    assert tinyjax.block_until_ready({'y': y, 'n': None})['y'] is y


def test_array_protocol():
    x = jnp.arange(6.0).reshape(2, 3)
    a = np.asarray(x)
    assert a.dtype == np.float32 and a.shape == (2, 3)
    np.testing.assert_array_equal(a, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.array(x).tolist() == x.tolist()


def test_dlpack_roundtrip_with_numpy():
    x = jnp.arange(6.0).reshape(2, 3)
    y = np.from_dlpack(x)
    np.testing.assert_array_equal(y, np.asarray(x))
    assert not y.flags.writeable            # tinyjax arrays are immutable, as in JAX
    assert x.__dlpack_device__()[0] == 1    # kDLCPU

    src = np.arange(4, dtype=np.float32)
    z = tinyjax.dlpack.from_dlpack(src)
    assert isinstance(z, tinyjax.Array) and z.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(z), src)
    # float64 becomes float32 with x64 off, as in JAX.
    assert tinyjax.dlpack.from_dlpack(np.arange(3.0)).dtype == np.float32


class _DLPackOnly:
    """Exposes nothing but the DLPack protocol, so asarray must take that route."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, *args, **kwargs):
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_asarray_takes_dlpack_objects():
    src = np.arange(5, dtype=np.float32)
    x = jnp.asarray(_DLPackOnly(src))
    assert isinstance(x, tinyjax.Array) and x.shape == (5,) and x.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(x + 1), src + 1)


def test_cuda_array_interface_absent_on_cpu():
    if tinyjax.default_backend() != 'cpu':
        pytest.skip('default backend is a GPU')
    assert not hasattr(jnp.ones(2), '__cuda_array_interface__')


@pytest.mark.gpu
def test_zero_copy_with_cupy_and_torch():
    import cupy as cp
    dev = tinyjax.devices('gpu')[0]
    x = tinyjax.device_put(np.arange(8, dtype=np.float32), dev)
    ptr = x.__cuda_array_interface__['data'][0]
    assert cp.asarray(x).data.ptr == ptr                 # __cuda_array_interface__
    assert cp.from_dlpack(x).data.ptr == ptr             # DLPack
    c = cp.arange(8, dtype=cp.float32)
    y = tinyjax.dlpack.from_dlpack(c, device=dev)
    assert y.__cuda_array_interface__['data'][0] == c.data.ptr
    assert jnp.asarray(c).__cuda_array_interface__['data'][0] == c.data.ptr
    np.testing.assert_array_equal(np.asarray(y * 2), cp.asnumpy(c * 2))
    torch = pytest.importorskip('torch')
    if not torch.cuda.is_available():
        pytest.skip('PyTorch without CUDA')
    t = torch.from_dlpack(x)
    assert t.data_ptr() == ptr and t.is_cuda
    src = torch.arange(8, dtype=torch.float32, device='cuda')
    z = jnp.asarray(src)
    assert z.__cuda_array_interface__['data'][0] == src.data_ptr()


def test_gpu_exports_run_with_the_device_stream_current():
    """CuPy's __dlpack__ makes the consumer's stream wait for CuPy's *current* stream, and
    its __cuda_array_interface__ names that stream; the buffer was written on the
    device's own stream, so exports must run inside device.context() (stand-ins)."""
    import contextlib
    from tinyjax.core.array import ArrayImpl
    inside = []

    class Dev:
        platform = 'gpu'

        @contextlib.contextmanager
        def context(self):
            inside.append(True)
            try:
                yield
            finally:
                inside.pop()

    class Buf:
        shape, dtype = (2,), np.dtype(np.float32)

        def __dlpack__(self, stream=None):
            return ('capsule', bool(inside))

        @property
        def __cuda_array_interface__(self):
            return {'stream': 'device' if inside else 'default'}

    x = ArrayImpl(Buf(), Dev())
    assert x.__dlpack__(stream=1) == ('capsule', True)
    assert x.__cuda_array_interface__['stream'] == 'device'
