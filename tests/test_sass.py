"""The machine code a GPU would run, checked without a GPU: the bench's kernels compiled by
NVRTC for sm_90 and read back with cuobjdump (tinyjax/profiler/sass.py).

What is asserted is what makes a memory-bound kernel reach the copy rate: 16-byte loads
and stores on the vector path of elementwise kernels and in row reductions whose rows
are contiguous, more than one 16-byte load in flight in a reduction loop, no spill to
local memory, and few enough registers for two 512-thread blocks per SM. The register
counts the launch planner reads from the cubin must equal cuobjdump's, and a cubin as
tinyjax stores it must be one cuobjdump accepts.
"""
import os
import sys

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax.backends import cubin
from tinyjax.compiler import codegen_reduce, program
from tinyjax.profiler import sass
from tinyjax.compiler.lowering import Reducer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'bench'))
import models  # noqa: E402


def _nvrtc():
    try:
        from tinyjax.compiler import nvrtc
        return nvrtc if nvrtc.available() else None
    except Exception:
        return None


needs_nvrtc = pytest.mark.skipif(_nvrtc() is None, reason='NVRTC (CuPy) not installed')
needs_tools = pytest.mark.skipif(sass.tools() is None,
                                 reason='cuobjdump/nvdisasm not installed (pip install '
                                        'nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)')


def _bench_programs():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(1 << 20, dtype=np.float32))
    out = {name: (lambda x, f=f: f(jnp, x), (x,)) for name, f in models.CHAINS.items()}
    for rows, cols in ((512, 1024), (512, 4096), (4096, 256)):
        a = jnp.asarray(rng.standard_normal((rows, cols), dtype=np.float32))
        g = jnp.asarray(np.ones(cols, np.float32))
        out[f'softmax {rows}x{cols}'] = (lambda x: models.softmax(jnp, x), (a,))
        out[f'layernorm {rows}x{cols}'] = (lambda x, g, b: models.layernorm(jnp, x, g, b), (a, g, g))
    big = jnp.asarray(rng.standard_normal(1 << 22, dtype=np.float32))
    out['sum 2^22'] = (lambda x: jnp.sum(x), (big,))
    out['max 2^22'] = (lambda x: jnp.max(x), (big,))
    progs = {name: tinyjax.jit(f).lower(*args).program for name, (f, args) in out.items()}
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in models.mlp_params_numpy(rng)]
    xb = jnp.asarray(rng.standard_normal((128, 784), dtype=np.float32))
    yb = jnp.asarray(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)])
    progs['mlp_step 128'] = models.make_mlp_step(tinyjax, jnp).lower(params, xb, yb).program
    return progs


def _contiguous_rows(k):
    """Rows that are whole 16-byte vectors in memory: reduced axes trailing, and
    a multiple of 4 columns unless there is one row."""
    red = next(e for e in k.eqns if isinstance(e.prim.lowering, Reducer))
    shape, axes = codegen_reduce.row_space(red)
    trailing = axes == tuple(range(len(shape) - len(axes), len(shape)))
    return trailing and not k.layout.columns and (k.n == 1 or k.cols % 4 == 0)


@pytest.fixture(scope='module')
def compiled():
    """{case: (program, cubin bytes, sass.summary)} for sm_90."""
    nv = _nvrtc()
    out = {}
    for name, prog in _bench_programs().items():
        data = nv.compile_cubin(prog.source(), 'sm_90', 'sass_check')
        out[name] = (prog, data, sass.summary(data))
    return out


@needs_nvrtc
@needs_tools
def test_stored_cubin_is_well_formed_and_readable():
    nv = _nvrtc()
    data = nv.compile_cubin(
        'extern "C" __global__ void k(float* x) { x[threadIdx.x] += 1.0f; }', 'sm_90', 'k')
    assert len(data) == cubin.extent(data)
    assert set(sass.resource_usage(data)) == {'k'}       # cuobjdump rejects a short file
    short = data[:-1]
    assert cubin.well_formed(short) == short + b'\0'     # the padding CuPy's copy needs


@needs_nvrtc
@needs_tools
def test_elementwise_kernels_move_16_bytes_per_access(compiled):
    for name in models.CHAINS:
        prog, _, summ = compiled[name]
        (k,) = prog.kernels
        s = summ[k.name]
        assert s['ldg128'] >= 1 and s['stg128'] >= 1, (name, s)
        assert s['loop_vector_loads'] >= 1, (name, s)


@needs_nvrtc
@needs_tools
def test_row_reductions_keep_several_16_byte_loads_in_flight(compiled):
    for name, (prog, _, summ) in compiled.items():
        for k in prog.kernels:
            if k.kind != 'row' or not _contiguous_rows(k):
                continue         # strided rows and column kernels: (coalesced) 4-byte loads
            s = summ[k.name]
            # TJ_RU vectors per step of the fold: a loop issues them all before folding
            # (a warp's row of at most 32 x TJ_RU x TJ_RV columns has no loop left)
            unrolled = k.layout.warp and k.cols <= 32 * 2 * codegen_reduce.RV
            assert s['loop_vector_loads'] >= 2 or unrolled, (name, k.name, s)
            lanes_vectors = -(-k.cols // (32 * codegen_reduce.RV))   # a warp's row: 1 each
            assert s['ldg128'] >= min(2, lanes_vectors), (name, k.name, s)
            if any(r.aval.shape == k.shape for r in k.outputs):     # softmax, layernorm
                assert s['stg128'] >= 1, (name, k.name, s)


@needs_nvrtc
@needs_tools
def test_no_spills_and_registers_match_cuobjdump(compiled):
    for name, (prog, data, summ) in compiled.items():
        for k in prog.kernels:
            s = summ[k.name]
            assert s['usage'].get('LOCAL') == 0, (name, k.name, s)
            if any(p in k.prims for p in ('sin', 'cos', 'tan')):
                # CUDA's sinf/cosf keep a 28-byte table on the stack for the slow argument
                # reduction of |x| > 105615: that frame, and nothing else
                assert s['usage'].get('STACK') <= 32, (name, k.name, s)
            else:
                assert s['local'] == 0 and s['usage'].get('STACK') == 0, (name, k.name, s)
            assert s['registers'] == s['usage']['REG'], (name, k.name, s)
            # two 512-thread blocks per SM at least (split rows size their waves on it)
            assert s['registers'] <= 64, (name, k.name, s)
        assert set(cubin.register_counts(data)) == {k.name for k in prog.kernels}


class _H200:
    platform, sm_count = 'gpu', 132


@needs_nvrtc
def test_planner_sizes_split_rows_by_the_cubins_registers(compiled):
    prog, data, _ = compiled['sum 2^22']
    (k,) = prog.kernels
    regs = cubin.register_counts(data)[k.name]
    per_sm = cubin.blocks_per_sm(regs, codegen_reduce.ROW_BLOCK)
    plan, _ = program.launches(k, _H200(), regs)
    chunks = int(plan[0][2][1])
    assert chunks == codegen_reduce.split_chunks(1, k.cols, 132, min(4, per_sm))
    assert plan[0][0][0] == chunks <= 132 * per_sm         # one wave: every block resident
    assert int(program.launches(k, _H200())[0][0][2][1]) == 4 * 132   # unknown: <= 32 regs


def test_blocks_per_sm_follows_sm90_limits():
    assert cubin.blocks_per_sm(32, 512) == 4
    assert cubin.blocks_per_sm(35, 512) == 3      # 40 registers per thread after rounding
    assert cubin.blocks_per_sm(48, 512) == 2
    assert cubin.blocks_per_sm(64, 512) == 2
    assert cubin.blocks_per_sm(65, 512) == 1
    assert cubin.blocks_per_sm(16, 64) == 32      # the block limit
    assert cubin.blocks_per_sm(255, 1024) == 1    # never 0
