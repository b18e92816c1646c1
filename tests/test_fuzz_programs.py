"""The standing fuzzer: random jnp programs (tests/fuzz_programs.py) give the same
results under jit as eagerly, and a fixed corpus gives JAX 0.10.2's results
(tests/data/fuzz_corpus.npz, recorded by tests/data/fuzz_corpus.py).

Each run checks FRESH_PROGRAMS programs jit against eager, and the 300 corpus programs
against JAX eagerly, every JIT_EVERY-th of them under jit too (each jitted program costs
a host compile; about a minute in all on a cold cache). The seeds are fixed, so a run
is deterministic; TINYJAX_FUZZ_SEEDS=start:count checks other programs (a day's worth:
TINYJAX_FUZZ_SEEDS=20000:2000). A failure names its seed and step list, which is the
whole reproducer: fuzz_programs.make_program(seed)."""
import os

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax

import fuzz_programs

FRESH_PROGRAMS = 24
JIT_EVERY = 5
CORPUS = os.path.join(os.path.dirname(__file__), 'data', 'fuzz_corpus.npz')
# Values the corpus records from JAX, and what tinyjax gives, differ where each uses its
# own libm (a few ulp in float32), and by one rounding step in the half types.
RTOL = {'float32': 2e-5, 'float16': 2e-3, 'bfloat16': 1.6e-2}


def _fresh_seeds():
    spec = os.environ.get('TINYJAX_FUZZ_SEEDS')
    if spec:
        start, count = (int(v) for v in spec.split(':'))
        return list(range(start, start + count))
    return [10 ** 6 + k for k in range(FRESH_PROGRAMS)]


def assert_close(got, want, dtype, what):
    got = np.asarray(got)
    assert str(got.dtype) == dtype, f'{what}: dtype {got.dtype}, expected {dtype}'
    want = np.asarray(want)
    assert got.shape == want.shape, f'{what}: shape {got.shape}, expected {want.shape}'
    if dtype in RTOL:
        g, w = got.astype(np.float64), want.astype(np.float64)
        scale = np.max(np.abs(w[np.isfinite(w)]), initial=1.0)
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3 * scale,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _run_both(prog, subnormals=True):
    args = fuzz_programs.as_inputs(prog, fuzz_programs.make_inputs(prog, subnormals), jnp)
    eager = fuzz_programs.run(prog, jnp, lax, args)
    jitted = jax.jit(lambda *a: fuzz_programs.run(prog, jnp, lax, a))(*args)
    return eager, jitted


@pytest.mark.parametrize('seed', _fresh_seeds())
def test_jit_equals_eager_on_random_programs(seed):
    prog = fuzz_programs.make_program(seed)
    eager, jitted = _run_both(prog)
    assert len(eager) == len(jitted)
    for k, (e, j) in enumerate(zip(eager, jitted)):
        assert_close(j, e, str(np.asarray(e).dtype), f'seed {seed} output {k}: {prog["steps"]}')


def _corpus():
    with np.load(CORPUS) as z:
        data = {k: z[k] for k in z.files}
    seeds = sorted(int(k.split('/')[0]) for k in data if k.endswith('/dtypes'))
    return data, seeds


_DATA, _SEEDS = _corpus()


@pytest.mark.parametrize('chunk', range(10))
def test_corpus_matches_jax(chunk):
    """300 programs in 10 chunks against the outputs JAX 0.10.2 gave: all eagerly, every
    JIT_EVERY-th under jit as well."""
    for seed in _SEEDS[chunk::10]:
        prog = fuzz_programs.make_program(seed)
        args = fuzz_programs.as_inputs(prog, fuzz_programs.make_inputs(prog, False), jnp)
        results = [('eager', fuzz_programs.run(prog, jnp, lax, args))]
        if seed % JIT_EVERY == 0:
            results.append(('jit', jax.jit(lambda *a: fuzz_programs.run(prog, jnp, lax, a))(*args)))
        dts = _DATA[f'{seed}/dtypes']
        for mode, outs in results:
            assert len(outs) == len(dts)
            for k, dt in enumerate(dts):
                assert_close(outs[k], _DATA[f'{seed}/{k}'], str(dt),
                             f'seed {seed} output {k} ({mode}): {prog["steps"]}')
