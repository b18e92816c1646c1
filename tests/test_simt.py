"""The SIMT runtime (tinyjax/backends/simt.py): the GPU variant of every kind of generated
kernel runs as blockDim threads per block with an H200's launch plan, in checked mode,
and matches NumPy; deliberately broken variants of real kernels fail the way a GPU (or
compute-sanitizer) would show it. Shapes are small but span several blocks and tails."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import random
from tinyjax.backends import simt
from tinyjax.compiler import headers, hostcc, program

pytestmark = pytest.mark.skipif(hostcc.compiler() is None, reason='no C++ compiler')


@pytest.fixture(scope='module')
def dev():
    return simt.SimtDevice(checked=True, target=simt.H200)


def _rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _on(dev, *xs):
    return [jax.device_put(x, dev) for x in xs]


def _program(f, dev, *xs):
    return jax.jit(f).lower(*_on(dev, *xs)).program


def _kernel(f, dev, *xs, kind=None):
    """The one generated kernel of jit(f) (of `kind` when given)."""
    ks = [k for k in _program(f, dev, *xs).kernels if kind is None or k.kind == kind]
    assert len(ks) == 1, ks
    return ks[0]


def run_kernel(k, inputs, dev, source=None, block=None, host_threads=None):
    """Run kernel k's launches (the plan `dev`'s GPU gets) on the SIMT runtime, from its
    module source or `source` (a broken variant), block size `block` if given. Outputs
    start as 0xff bytes (NaN), so an element no thread writes shows."""
    src = source if source is not None else program.module_source([k])
    module = simt.Module(src, [k.name], dev.checked, dev.target)
    plan, scratch = program.launches(k, dev)
    outs = [np.empty(v.aval.shape, v.aval.dtype) for v in k.outputs]
    for o in outs:
        o.reshape(-1).view(np.uint8).fill(0xff)
    bufs = list(inputs) + outs + ([np.zeros(scratch, np.uint8)] if scratch else [])
    for grid, blk, scalars in plan:
        module.kernels[k.name](grid, block or blk, [*bufs, *scalars], host_threads)
    return outs


def _expanded(k):
    return headers.expand(program.module_source([k]))


# --- the runtime's CUDA semantics, on a hand-written kernel ----------------------------
PROBE = r'''
extern "C" __global__ void probe(const int* __restrict__ in0, int* __restrict__ out0,
                                 unsigned int* __restrict__ out1, int* __restrict__ out2,
                                 const int n) {
  __shared__ int tile[128];
  const int t = threadIdx.x, lane = t & 31, g = blockIdx.x * blockDim.x + t;
  tile[t] = in0[g];
  __syncthreads();
  const int v = tile[(t + 1) % blockDim.x];          // a neighbour's value, via shared memory
  const int down = __shfl_down_sync(0xffffffffu, v, 3);
  const int up = __shfl_up_sync(0xffffffffu, v, 2, 8);
  const int x = __shfl_xor_sync(0xffffffffu, v, 5);
  const int idx = __shfl_sync(0xffffffffu, v, 7, 16);
  out0[g * 4 + 0] = down;
  out0[g * 4 + 1] = up;
  out0[g * 4 + 2] = x;
  out0[g * 4 + 3] = idx;
  const unsigned int b = __ballot_sync(0xffffffffu, v % 3 == 0);
  if (lane == 0) out1[g / 32] = b;
  __syncwarp();
  atomicAdd(out2 + blockIdx.x % 2, v);
}
'''


def test_threads_warps_shuffles_shared_memory_and_atomics_behave_as_on_a_gpu():
    blocks, threads = 6, 128
    x = np.random.default_rng(1).integers(-1000, 1000, blocks * threads).astype(np.int32)
    out0 = np.zeros(blocks * threads * 4, np.int32)
    out1 = np.zeros(blocks * threads // 32, np.uint32)
    out2 = np.zeros(2, np.int32)
    module = simt.Module(PROBE, ['probe'], checked=True)
    module.kernels['probe']((blocks,), (threads,), [x, out0, out1, out2, len(x)], host_threads=2)
    g = np.arange(blocks * threads)
    t, lane = g % threads, g % 32
    v = x[g - t + (t + 1) % threads]                      # what each thread read from tile
    warp_base = g - lane
    down = np.where(lane + 3 < 32, v[np.minimum(g + 3, len(g) - 1)], v)
    up = np.where(lane % 8 >= 2, v[g - 2], v)
    xor = v[warp_base + (lane ^ 5)]
    idx = v[g - lane % 16 + 7]
    np.testing.assert_array_equal(out0.reshape(-1, 4), np.stack([down, up, xor, idx], 1))
    bits = (v % 3 == 0).reshape(-1, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    np.testing.assert_array_equal(out1, bits.sum(1).astype(np.uint32))
    per_block = v.reshape(blocks, threads).sum(1)
    np.testing.assert_array_equal(out2, [per_block[0::2].sum(), per_block[1::2].sum()])


VECTORS = r'''
extern "C" __global__ void vec(const float* __restrict__ in0, float* __restrict__ out0,
                               const int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n / 4) {
    const float4 a = reinterpret_cast<const float4*>(in0)[i];
    const uchar4 c = make_uchar4(1, 2, 3, 4);
    reinterpret_cast<float4*>(out0)[i] =
        make_float4(a.x + c.x, a.y + c.y, __ldg(in0 + 4 * i + 2) * 2, max(a.w, 0.5f));
  }
}
'''


def test_vector_types_and_load_intrinsics():
    x = np.random.default_rng(3).random(256).astype(np.float32)
    out = np.zeros_like(x)
    simt.Module(VECTORS, ['vec']).kernels['vec']((3,), (32,), [x, out, 256])
    x4 = x.reshape(-1, 4)
    want = np.stack([x4[:, 0] + 1, x4[:, 1] + 2, x4[:, 2] * 2, np.maximum(x4[:, 3], 0.5)], 1)
    np.testing.assert_array_equal(out.reshape(-1, 4), want)


# --- every kernel kind passes against NumPy with the H200 plan -------------------------
def _check(dev, f, ref, *xs, rtol=1e-5, atol=1e-5):
    got = jax.jit(f)(*_on(dev, *xs))
    got, want = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref(*xs))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=atol)


def test_loop_kernel_with_vector_path_and_tail(dev):
    x = _rand(5001)
    k = _kernel(lambda a: jnp.sin(a) * 2 + 1, dev, x)
    assert k.kind == 'loop' and 'tj_vec_load' in k.source
    (grid, block, _), = program.launches(k, dev)[0]
    assert grid[0] == 5 and block[0] == 256            # 5001 elements / (256 threads * 4)
    _check(dev, lambda a: jnp.sin(a) * 2 + 1, lambda a: np.sin(a) * 2 + 1, x)


def test_misaligned_buffers_take_the_scalar_path(dev):
    x = _rand(3001)
    k = _kernel(lambda a, b: a * b - a, dev, x, x)
    base = np.zeros(3002, np.float32)
    a = base[1:]                                         # 4 bytes past an aligned start
    a[:] = x
    assert a.ctypes.data % 16 != 0
    out, = run_kernel(k, [a, x], dev)
    np.testing.assert_allclose(out, x * x - x, rtol=1e-6)


def test_float16_and_integer_loops(dev):
    h = _rand(2050).astype(np.float16)
    _check(dev, lambda a: a * a + a, lambda a: a * a + a, h, rtol=1e-3, atol=1e-3)
    i = np.arange(-2000, 2100, dtype=np.int32)
    _check(dev, lambda a: (a * 7) // 3 - a % 5, lambda a: (a * 7) // 3 - a % 5, i)


def test_warp_rows(dev):
    x = _rand((37, 300))                                   # 8 rows a block, a partial block
    k = _kernel(lambda a: jax.nn.softmax(a, axis=-1), dev, x)
    assert k.layout.warp
    assert len(re.findall(r'\bexp\(', k.source)) == 2          # the sum's fold stores exp for the epilogue
    e = np.exp(x - x.max(1, keepdims=True))
    _check(dev, lambda a: jax.nn.softmax(a, axis=-1), lambda a: e / e.sum(1, keepdims=True), x)
    i = np.random.default_rng(2).integers(-50, 50, (19, 70)).astype(np.int32)
    _check(dev, lambda a: (jnp.max(a, 1), jnp.min(a, 1), jnp.sum(a, 1)),
           lambda a: (a.max(1), a.min(1), a.sum(1)), i)


def test_block_rows(dev):
    x = _rand((6, 1500))                                   # a block a row, 512 threads, tail
    k = _kernel(lambda a: jnp.sum(a, axis=1), dev, x)
    assert not k.layout.warp and len(program.launches(k, dev)[0]) == 1
    _check(dev, lambda a: jnp.sum(a, axis=1), lambda a: a.sum(1), x, rtol=1e-4)
    mean = x.mean(1, keepdims=True)
    _check(dev, lambda a: jax.nn.standardize(a, axis=-1),
           lambda a: (a - mean) / np.sqrt(((a - mean) ** 2).mean(1, keepdims=True) + 1e-5),
           x, rtol=1e-4, atol=1e-4)


def test_split_rows(dev):
    x = _rand((2, 9000))                                   # 2 chunks a row on 132 SMs
    k = _kernel(lambda a: jax.nn.softmax(a, axis=-1), dev, x)
    plan, scratch = program.launches(k, dev)
    assert len(plan) == 3 and scratch > 8                  # max, sum, outputs: three passes
    assert len(re.findall(r'\bexp\(', k.source)) == 2          # stored in pass 1, read back in pass 2
    e = np.exp(x - x.max(1, keepdims=True))
    _check(dev, lambda a: jax.nn.softmax(a, axis=-1), lambda a: e / e.sum(1, keepdims=True), x)
    y = _rand(20000, seed=3)
    _check(dev, lambda a: (jnp.sum(a), jnp.max(a)), lambda a: (a.sum(), a.max()), y, rtol=1e-4)


def test_column_reductions(dev):
    x = _rand((300, 7))
    _check(dev, lambda a: jnp.sum(a, axis=0), lambda a: a.sum(0), x, rtol=1e-4)
    y = _rand((1000, 3), seed=4)
    k = _kernel(lambda a: jnp.max(a, axis=0), dev, y)
    assert not k.layout.warp
    _check(dev, lambda a: (jnp.max(a, axis=0), jnp.mean(a, axis=0)),
           lambda a: (a.max(0), a.mean(0)), y, rtol=1e-4)


def test_threefry_bits_match_the_numpy_rule(dev):
    key = random.PRNGKey(7)
    want = np.asarray(random.uniform(key, (3000,)))      # eager: the primitive's NumPy rule
    k = _kernel(lambda kk: random.uniform(kk, (3000,)), dev, np.asarray(key))
    assert 'threefry2x32' in k.prims
    got = jax.jit(lambda kk: random.uniform(kk, (3000,)))(*_on(dev, np.asarray(key)))
    np.testing.assert_array_equal(np.asarray(got), want)


def test_horizontally_fused_loops(dev):
    a, b = _rand(1500), _rand((40, 70), seed=5)
    p = _program(lambda x, y: (x * 2, y + 1), dev, a, b)
    assert [k.name[0] for k in p.kernels] == ['h']
    _check(dev, lambda x, y: (x * 2, y + 1), lambda x, y: (x * 2, y + 1), a, b)


def test_a_jitted_training_step(dev):
    w, x = _rand((64, 10)) * 0.1, _rand((33, 64), seed=6)

    def loss(w, x):
        return jnp.mean(jax.nn.logsumexp(jnp.tanh(x) @ w, axis=-1) ** 2)
    g = jax.jit(jax.grad(loss))(*_on(dev, w, x))
    want = jax.grad(loss)(w, x)                          # eager NumPy rules
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-4, atol=1e-6)


def test_tinyjax_simt_runs_a_process_on_simt_devices():
    code = ('import numpy as np, tinyjax as jax, tinyjax.numpy as jnp\n'
            'print(repr(jax.devices()[0]))\n'
            'print(float(jax.jit(lambda x: jnp.sum(x * x))(jnp.arange(3000.0))))\n')
    env = dict(os.environ, TINYJAX_SIMT='1', TINYJAX_PLATFORM='cpu',
               PYTHONPATH=os.pathsep.join([str(Path(jax.__file__).parents[1]),
                                           os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    device, value = out.stdout.split('\n')[:2]
    assert device == 'SimtDevice(id=0, NVIDIA H200)'
    assert np.isclose(float(value), (np.arange(3000.0) ** 2).sum(), rtol=1e-6)


def test_tinyjax_simt_env_makes_simt_devices(monkeypatch):
    monkeypatch.setenv('TINYJAX_SIMT', '1')
    d = simt.device_factory()(3)
    assert isinstance(d, simt.SimtDevice) and d.checked and d.sm_count == 132 and d.id == 3
    monkeypatch.setenv('TINYJAX_SIMT', 'fast')
    assert not simt.device_factory()(0).checked
    monkeypatch.setenv('TINYJAX_SIMT', '0')
    assert simt.device_factory() is None


# --- broken variants fail ------------------------------------------------------------
def _mutate(text, pattern, repl, count=0):
    new, n = re.subn(pattern, repl, text, count=count)
    assert n, f'the mutation {pattern!r} found nothing to change: update this test'
    return new


def test_missing_syncthreads_in_the_block_combine_is_a_race(dev):
    x = _rand((6, 1500))
    k = _kernel(lambda a: jnp.sum(a, axis=1), dev, x)
    np.testing.assert_allclose(run_kernel(k, [x], dev)[0], x.sum(1), rtol=1e-4)
    broken = _mutate(_expanded(k), r'__syncthreads\(\);', ';')
    with pytest.raises(simt.SimtError, match=r'r\d_reduce_sum .*shared memory.*(hazard|race)'):
        run_kernel(k, [x], dev, source=broken)


def test_barrier_not_reached_by_every_thread(dev):
    x = _rand((6, 1500))
    k = _kernel(lambda a: jnp.sum(a, axis=1), dev, x)
    broken = _mutate(_expanded(k), r'__syncthreads\(\);', 'if (threadIdx.x < 64) __syncthreads();', 1)
    with pytest.raises(simt.SimtError, match='__syncthreads is not reached by every thread'):
        run_kernel(k, [x], dev, source=broken)


def test_wrong_shuffle_offset_gives_wrong_rows(dev):
    x = np.abs(_rand((37, 300))) + 1
    k = _kernel(lambda a: jnp.sum(a, axis=1), dev, x)
    np.testing.assert_allclose(run_kernel(k, [x], dev)[0], x.sum(1), rtol=1e-4)
    broken = _mutate(_expanded(k), r'(__shfl_(?:down|xor)_sync\([^,]+,[^,]+,)([^)]+)\)',
                     r'\1 (\2) ^ 1)')
    got = run_kernel(k, [x], dev, source=broken)[0]
    assert not np.allclose(got, x.sum(1), rtol=1e-3)


def test_off_by_one_in_the_vector_tail(dev):
    x = _rand(5001)
    k = _kernel(lambda a: a * 3, dev, x)
    np.testing.assert_array_equal(run_kernel(k, [x], dev)[0], x * 3)
    # The scalar tail runs one element too far: a store past the end of out0.
    past = _mutate(_expanded(k), r'i < start \+ span\.end', 'i <= start + span.end')
    with pytest.raises(simt.SimtError) as e:
        run_kernel(k, [x], dev, source=past)
    msg = str(e.value)
    assert re.search(r'k\d_mul', msg) and 'out of bounds' in msg and 'has 5001 elements' in msg
    assert re.search(r'(in0|out0)\[5001\]', msg), msg
    # The tail starts one element late: element 5000 is never written.
    late = _mutate(_expanded(k), r'start = nv \* 4;', 'start = nv * 4 + 1;')
    got = run_kernel(k, [x], dev, source=late)[0]
    np.testing.assert_array_equal(got[:5000], x[:5000] * 3)
    assert np.isnan(got[5000])


def test_block_size_not_a_multiple_of_32(dev):
    x = _rand((6, 1500))
    k = _kernel(lambda a: jnp.sum(a, axis=1), dev, x)
    with pytest.raises(simt.SimtError, match='not a multiple of 32'):
        run_kernel(k, [x], dev, block=(500, 1, 1))


def test_launch_beyond_sm90_limits_is_refused(dev):
    x = _rand(100)
    k = _kernel(lambda a: a + 1, dev, x)
    with pytest.raises(simt.SimtError, match='invalid launch configuration'):
        run_kernel(k, [x], dev, block=(2048, 1, 1))


def test_unchecked_mode_runs_the_same_kernels():
    fast = simt.SimtDevice(checked=False)
    x = _rand((37, 300))
    _check(fast, lambda a: jnp.max(a, axis=1), lambda a: a.max(1), x)


FAULTS = {
    'exit_before_barrier': (
        'if (threadIdx.x == 5) return; __syncthreads(); out0[threadIdx.x] = 1;',
        r'__syncthreads is not reached .*thread 5: exited'),
    'uninitialised_shared': (
        '__shared__ int s[64]; if (threadIdx.x < 32) s[threadIdx.x] = 1; __syncthreads(); '
        'out0[threadIdx.x] = s[threadIdx.x];',
        r'thread 32 reads 4 bytes of shared memory at offset 128 .*no thread of this block '
        r'has written'),
    'lane_outside_mask': (
        'out0[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 0);',
        r'lane 16 calls __shfl_sync .*mask 0x0000ffff, which does not include the calling lane'),
    'store_before_the_start': (
        'out0[(int)threadIdx.x - 1] = 1;',
        r'thread 0 writes 4 bytes at out0\[-1\], out of bounds: out0 has 64 elements of int'),
}


@pytest.mark.parametrize('case', sorted(FAULTS))
def test_faults_a_gpu_would_hit_are_reported(case):
    body, message = FAULTS[case]
    src = f'extern "C" __global__ void fault(int* __restrict__ out0) {{ {body} }}\n'
    module = simt.Module(src, ['fault'], checked=True)
    with pytest.raises(simt.SimtError, match=message):
        module.kernels['fault']((2,), (64,), [np.zeros(64, np.int32)])


def test_an_overrun_into_a_neighbouring_buffer_is_caught():
    src = ('extern "C" __global__ void over(const int* __restrict__ in0, int* __restrict__ out0) '
           '{ out0[threadIdx.x + 3] = in0[threadIdx.x]; }\n')
    memory = np.zeros(128, np.int32)
    out0, in0 = memory[:64], memory[64:]               # in0 starts where out0 ends
    with pytest.raises(simt.SimtError, match=r'thread 61 writes 4 bytes at out0\[64\], out of '
                                             r'bounds: out0 has 64 elements'):
        simt.Module(src, ['over'], checked=True).kernels['over']((1,), (64,), [in0, out0])
