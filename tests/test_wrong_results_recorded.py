"""Derivatives at ties and kinks, complex autodiff, lists refused by jnp functions,
control flow inside custom_jvp/custom_vjp under grad, and random.uniform bit for bit:
against the values JAX 0.10.2 gave (tests/data/wrong_results.py, recorded in
wrong_results.json). Dtypes and shapes exactly; values to float32 rounding, 'exact:'
cases bit for bit; errors by class and first line of the message."""
import json
import pathlib
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import wrong_results  # noqa: E402

RECORDED = json.loads((DATA / 'wrong_results.json').read_text())['cases']


def _values(leaf):
    if 'real' in leaf:
        return np.asarray(leaf['real']) + 1j * np.asarray(leaf['imag'])
    return np.asarray(leaf['values'])


@pytest.mark.parametrize('name', list(wrong_results.CASES))
def test_matches_jax(name):
    want = RECORDED[name]
    got = wrong_results.evaluate(jax, jnp, name, wrong_results.CASES[name])
    if 'error' in want:
        assert got == want
        return
    assert 'error' not in got, got
    assert len(got['leaves']) == len(want['leaves'])
    for g, w in zip(got['leaves'], want['leaves']):
        assert (g['dtype'], g['shape']) == (w['dtype'], w['shape'])
        gv, wv = _values(g), _values(w)
        if name.startswith('exact:'):
            np.testing.assert_array_equal(gv, wv)
        else:
            np.testing.assert_allclose(gv, wv, rtol=2e-5, atol=2e-6, equal_nan=True)
