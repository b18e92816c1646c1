"""The API added to close gaps with JAX, against values JAX 0.10.2 gave for the same
expressions (tests/data/api_gaps.py, recorded in api_gaps.json): dtypes, shapes and
weak types exactly, values to float32 rounding, 'exact:' cases bit for bit."""
import json
import pathlib
import sys

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import api_gaps  # noqa: E402

RECORDED = json.loads((DATA / 'api_gaps.json').read_text())['cases']


@pytest.mark.parametrize('name', list(api_gaps.CASES))
def test_matches_jax(name):
    want = RECORDED[name]
    got = api_gaps.evaluate(jax, jnp, api_gaps.CASES[name])
    if 'error' in want:
        assert got == want
        return
    assert 'error' not in got, got
    assert len(got['leaves']) == len(want['leaves'])
    for g, w in zip(got['leaves'], want['leaves']):
        assert (g['dtype'], g['shape'], g['weak']) == (w['dtype'], w['shape'], w['weak'])
        gv, wv = np.asarray(g['values']), np.asarray(w['values'])
        if name.startswith('exact:') or w['dtype'] in ('bool', 'int32', 'uint32', 'int8'):
            np.testing.assert_array_equal(gv, wv)
        else:
            tol = {'bfloat16': 1e-2, 'float16': 2e-3}.get(w['dtype'], 2e-5)
            np.testing.assert_allclose(gv, wv, rtol=tol, atol=tol)
