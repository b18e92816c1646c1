"""The emulated GPU (tinyjax/backends/emulated): its pieces catch what a GPU would get
wrong, and a process with TINYJAX_PLATFORM=gpu-emulated runs the CUDA backend unchanged.

The pieces are used directly here (the double replaces CuPy for a whole process, so
installing it is left to the subprocess test and to CI's emulated run)."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from tinyjax.backends.emulated import arrays, devices, launch, libs, memory, runtime
from tinyjax.ops import gemm
from tinyjax.core.ir import ShapedArray

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = r'''
extern "C" __global__ void scale(const float* __restrict__ x, float* __restrict__ y, const int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    y[i] = 2.0f * x[i];
}
'''


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setenv('TINYJAX_EMULATED_GPUS', '2')
    memory.set_current_device(0)
    yield
    memory.set_current_device(0)


def _on(device, host):
    with devices.Device(device):
        return arrays.wrap(np.array(host))


def _function():
    cubin = b'not a real cubin: ' + SRC.encode()
    launch.remember(cubin, SRC)
    m = runtime.Module()
    m.load(cubin)
    return m.get_function('scale')


def test_arrays_keep_cupys_rules(two_gpus):
    x = _on(0, np.arange(6, dtype=np.float32))
    with pytest.raises(TypeError, match='Implicit conversion'):
        np.asarray(x)
    with pytest.raises(TypeError, match='Unsupported type'):
        x + np.ones(6, np.float32)
    s = x.sum()
    assert isinstance(s, arrays.ndarray) and s.shape == () and float(s) == 15.0
    np.testing.assert_array_equal(x.get(), np.arange(6))
    assert x.data.ptr == x.__cuda_array_interface__['data'][0]
    assert x.reshape(2, 3)[1].device.id == 0                # a view stays on its GPU


def test_a_launch_runs_the_kernel_and_checks_its_arguments(two_gpus):
    fn = _function()
    x = _on(0, np.arange(1000, dtype=np.float32))
    y = _on(0, np.zeros(1000, np.float32))
    fn((4,), (256,), (x, y, np.int32(1000)))
    np.testing.assert_array_equal(y.get(), 2 * np.arange(1000, dtype=np.float32))
    with pytest.raises(TypeError, match=r'argument 2 \(int n\) must be a NumPy int32'):
        fn((4,), (256,), (x, y, 1000))                       # a Python int: 8 bytes on a GPU
    with pytest.raises(TypeError, match='3 parameters'):
        fn((4,), (256,), (x, y))
    with pytest.raises(ValueError, match='has 2048 threads'):
        fn((4,), (64, 32, 1), (x, y, np.int32(1000)))
    with pytest.raises(ValueError, match='not C-contiguous'):
        fn((4,), (256,), (x[::2], y[:500], np.int32(500)))
    with pytest.raises(TypeError, match='tuple'):
        fn([4], (256,), (x, y, np.int32(1000)))
    z = _on(1, np.zeros(1000, np.float32))
    with pytest.raises(RuntimeError, match='lives on GPU 1'):
        fn((4,), (256,), (x, z, np.int32(1000)))
    with devices.Device(1):                                  # the module is GPU 0's
        with pytest.raises(RuntimeError, match='INVALID_HANDLE'):
            fn((4,), (256,), (x, y, np.int32(1000)))
        other = devices.Stream(non_blocking=True)            # a stream of GPU 1
    with pytest.raises(RuntimeError, match='stream belongs to GPU 1'):
        fn((4,), (256,), (x, y, np.int32(1000)), stream=other)


def test_a_captured_graph_replays_its_launches(two_gpus):
    fn = _function()
    x = _on(0, np.ones(8, np.float32))
    s = devices.Stream(non_blocking=True)
    s.begin_capture()
    fn((1,), (32,), (x, x, np.int32(8)), stream=s)
    g = s.end_capture()
    assert x.get()[0] == 1                                   # captured, not run
    g.launch(s)
    g.launch(s)
    assert x.get()[0] == 4


def test_cublas_reads_the_plans_pointers_and_rejects_a_wrong_stride(two_gpus):
    rng = np.random.default_rng(0)
    lhs = rng.standard_normal((3, 5, 4)).astype(np.float64)
    rhs = rng.standard_normal((3, 4, 6)).astype(np.float64)
    g = gemm.plan(ShapedArray(lhs.shape, np.float64), ShapedArray(rhs.shape, np.float64),
                  (((2,), (1,)), ((0,), (0,))))
    a, b, c = _on(0, rhs), _on(0, lhs), _on(0, np.zeros(g.out_shape))
    one, zero = np.ones(1), np.zeros(1)
    h = libs.handle_for(0)

    def call(stride_a):
        libs.gemmStridedBatchedEx(h, g.transa, g.transb, g.m, g.n, g.k, one.ctypes.data,
                                  a.data.ptr, 1, g.lda, stride_a, b.data.ptr, 1, g.ldb,
                                  g.stride_b, zero.ctypes.data, c.data.ptr, 1, g.ldc,
                                  g.stride_c, g.batch, libs.COMPUTE_64F, -1)
    call(g.stride_a)
    np.testing.assert_allclose(c.get(), lhs @ rhs, rtol=1e-12)
    with pytest.raises(RuntimeError, match='past the end of their allocation'):
        call(g.stride_a + 1)
    with devices.Device(1):
        with pytest.raises(RuntimeError, match='belongs to GPU 0'):
            call(g.stride_a)


def test_tf32_rounds_float32_inputs_to_ten_mantissa_bits():
    x = np.array([1 + 2 ** -11, 1 + 2 ** -10 + 2 ** -11, 1 + 3 * 2 ** -12], np.float32)
    np.testing.assert_array_equal(libs.round_to_tf32(x),
                                  np.array([1, 1 + 2 ** -9, 1 + 2 ** -10], np.float32))


def _ranks(n):
    return libs.NcclCommunicator.initAll(list(range(n)))


def test_nccl_collectives_over_emulated_gpus(monkeypatch):
    monkeypatch.setenv('TINYJAX_EMULATED_GPUS', '4')
    comms = _ranks(4)
    data = [np.arange(8, dtype=np.float32) * (r + 1) for r in range(4)]
    sends = [_on(r, d) for r, d in enumerate(data)]
    recvs = [_on(r, np.zeros(8, np.float32)) for r in range(4)]
    gathered = [_on(r, np.zeros(32, np.float32)) for r in range(4)]
    libs.groupStart()
    for r, c in enumerate(comms):
        c.allReduce(sends[r].data.ptr, recvs[r].data.ptr, 8, libs.NCCL_FLOAT32, libs.NCCL_MAX, 0)
        c.allGather(sends[r].data.ptr, gathered[r].data.ptr, 8, libs.NCCL_FLOAT32, 0)
    libs.groupEnd()
    for r in range(4):
        np.testing.assert_array_equal(recvs[r].get(), data[3])
        np.testing.assert_array_equal(gathered[r].get(), np.concatenate(data))
    libs.groupStart()
    for r, c in enumerate(comms):                     # a ring: r sends to r + 1
        c.send(sends[r].data.ptr, 8, libs.NCCL_FLOAT32, (r + 1) % 4, 0)
        c.recv(recvs[r].data.ptr, 8, libs.NCCL_FLOAT32, (r - 1) % 4, 0)
    libs.groupEnd()
    for r in range(4):
        np.testing.assert_array_equal(recvs[r].get(), data[(r - 1) % 4])


def test_nccl_reports_what_would_hang_or_fault_on_a_gpu(monkeypatch):
    monkeypatch.setenv('TINYJAX_EMULATED_GPUS', '2')
    comms = _ranks(2)
    s = [_on(r, np.ones(4, np.float32)) for r in range(2)]
    with pytest.raises(RuntimeError, match='deadlock'):
        comms[0].allReduce(s[0].data.ptr, s[0].data.ptr, 4, libs.NCCL_FLOAT32, libs.NCCL_SUM, 0)
    libs.groupStart()
    comms[0].allReduce(s[0].data.ptr, s[0].data.ptr, 4, libs.NCCL_FLOAT32, libs.NCCL_SUM, 0)
    comms[1].allReduce(s[1].data.ptr, s[1].data.ptr, 2, libs.NCCL_FLOAT32, libs.NCCL_SUM, 0)
    with pytest.raises(RuntimeError, match='disagree'):
        libs.groupEnd()
    libs.groupStart()
    for r, c in enumerate(comms):        # rank 1 hands rank 0's buffer: another GPU's memory
        c.allReduce(s[0].data.ptr, s[r].data.ptr, 4, libs.NCCL_FLOAT32, libs.NCCL_SUM, 0)
    with pytest.raises(RuntimeError, match='lives on emulated GPU 0'):
        libs.groupEnd()
    libs.groupStart()
    comms[0].send(s[0].data.ptr, 4, libs.NCCL_FLOAT32, 1, 0)
    with pytest.raises(RuntimeError, match='no matching receive'):
        libs.groupEnd()


def test_memory_lookups_stop_at_the_allocation():
    x = _on(0, np.zeros(16, np.uint8))
    memory.view(x.data.ptr + 8, 8, np.uint8, 'test')
    with pytest.raises(RuntimeError, match='past the end'):
        memory.view(x.data.ptr + 8, 9, np.uint8, 'test')
    junk = ctypes.create_string_buffer(16)
    with pytest.raises(RuntimeError, match='not inside any live allocation'):
        memory.view(ctypes.addressof(junk), 4, np.uint8, 'test')


def test_a_process_on_the_emulated_gpu_runs_the_cuda_backend():
    code = r'''
import numpy as np
import tinyjax as jax, tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.backends import collectives
import cupy
assert getattr(cupy, 'emulated', False) and len(jax.devices()) == 8
dev = jax.devices()[0]
assert type(dev).__name__ == 'CudaDevice' and dev.sm_count == 132 and dev.arch == 'sm_90'
x = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
e = jax.jit(lambda v: jax.nn.softmax(v, axis=-1))(jnp.asarray(x))
r = np.exp(x - x.max(-1, keepdims=True)); r /= r.sum(-1, keepdims=True)
np.testing.assert_allclose(np.asarray(e), r, rtol=1e-5, atol=1e-7)
y = np.arange(8 * 5, dtype=np.float32).reshape(8, 5)
out = jax.pmap(lambda v: lax.psum(v, 'i'), axis_name='i')(y)
np.testing.assert_allclose(np.asarray(out), np.broadcast_to(y.sum(0), y.shape))
assert type(next(iter(collectives._chosen.values()))).__name__ == 'NcclCollectives'
print('ok')
'''
    env = dict(os.environ, TINYJAX_PLATFORM='gpu-emulated', TINYJAX_EMULATED_GPUS='8',
               PYTHONPATH=ROOT)
    from tinyjax.compiler import nvrtc
    if not nvrtc.available():
        pytest.skip('the emulated GPU compiles kernels with the real NVRTC, not installed here')
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith('ok'), proc.stderr[-3000:]
