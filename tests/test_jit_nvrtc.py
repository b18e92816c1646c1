"""Every kernel the test run generates compiles with NVRTC for sm_90 and sm_80.

tests/conftest.py sets TINYJAX_NVRTC_CHECK=sm_90,sm_80 when NVRTC is installed, so each
module jit builds during the run is also compiled for those arches (a failure raises
CompileError in the test that generated it). The tests here make sure that happened,
and compile a set of representative programs themselves when run alone.
"""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import dtypes
from tinyjax.compiler import nvrtc, program

pytestmark = pytest.mark.skipif(not nvrtc.available(), reason='NVRTC (cupy-cuda13x) not installed')


def _programs():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    yield (lambda x: jnp.exp(x - jnp.max(x, -1, keepdims=True)).sum(-1)), x
    yield (lambda x: (x.T * 2)[::-1, 1:].astype(jnp.float16) * 3), x
    yield (lambda x: jnp.concatenate([x, jnp.pad(x, ((0, 0), (1, 1)))], 1).astype(dtypes.bfloat16)), x
    yield (lambda x: (jnp.argmax(x, 1), (x > 0).sum(0), jnp.prod(x.astype(jnp.int8), 1))), x


@pytest.mark.parametrize('arch', ['sm_90', 'sm_80'])
def test_representative_programs_compile(arch):
    for f, x in _programs():
        src = jax.jit(f).lower(x).as_cuda()
        cubin = nvrtc.compile_cubin(src, arch)
        assert cubin[:4] == b'\x7fELF'


def test_every_generated_kernel_was_compiled_with_nvrtc():
    assert set(program.check_arches()) >= {'sm_90', 'sm_80'}
    for f, x in _programs():
        jax.jit(f)(x)
    arches = {a for a, _ in program.checked_sources}
    assert arches >= {'sm_90', 'sm_80'}
