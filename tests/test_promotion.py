"""JAX's type promotion, against a table recorded from JAX 0.10.2 (x64 off)."""
import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyjax.numpy as jnp
from tinyjax import dtypes

TABLE = json.loads((pathlib.Path(__file__).parent / 'data' / 'promotion_table.json').read_text())


def _make(name):
    if name == 'i*':
        return 1
    if name == 'f*':
        return 1.0
    return jnp.zeros((), dtype=name)


@pytest.mark.parametrize('pair', sorted(TABLE))
def test_promotion_matches_jax(pair):
    a, b = pair.split(',')
    want_dtype, want_weak = TABLE[pair]
    x, y = _make(a), _make(b)
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        r = jnp.asarray(x) + y
    else:
        r = jnp.asarray(x) + y if not isinstance(x, (int, float)) else x + jnp.asarray(y)
    assert str(r.dtype) == want_dtype
    assert r.weak_type == want_weak


def test_weak_scalars_keep_array_dtype():
    x = jnp.ones(3, jnp.float16)
    assert (x * 2.0).dtype == jnp.float16
    assert (jnp.ones(3, jnp.int32) * 2).dtype == jnp.int32
    assert (jnp.ones(3, jnp.int32) * 2.0).dtype == jnp.float32
    assert (jnp.ones(3, jnp.bfloat16) + 1).dtype == jnp.bfloat16


def test_defaults_are_32_bit():
    assert jnp.asarray(1.0).dtype == jnp.float32
    assert jnp.asarray(1).dtype == jnp.int32
    assert jnp.asarray(np.arange(3.0)).dtype == jnp.float32
    assert jnp.arange(3).dtype == jnp.int32


def test_x64(x64):
    assert jnp.asarray(1.0).dtype == jnp.float64
    assert jnp.asarray(np.arange(3)).dtype == jnp.int64


_DT = [jnp.bool_, jnp.uint8, jnp.int8, jnp.int16, jnp.int32, jnp.uint32, jnp.float16,
       jnp.bfloat16, jnp.float32]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_DT), st.sampled_from(_DT),
       st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.lists(st.integers(1, 3), min_size=0, max_size=3), st.data())
def test_broadcast_and_promote_property(d1, d2, s1, s2, data):
    # Make the shapes broadcast-compatible by replacing mismatches with 1.
    n = min(len(s1), len(s2))
    for i in range(1, n + 1):
        if s1[-i] != s2[-i] and data.draw(st.booleans()):
            s1[-i] = 1
        elif s1[-i] != s2[-i]:
            s2[-i] = 1
    a = np.ones(s1, d1.dtype)
    b = np.ones(s2, d2.dtype)
    r = jnp.asarray(a) * jnp.asarray(b) if d1 != jnp.bool_ or d2 != jnp.bool_ else jnp.asarray(a) & jnp.asarray(b)
    assert r.shape == np.broadcast_shapes(a.shape, b.shape)
    assert r.dtype == dtypes.promote_types(d1.dtype, d2.dtype)
    np.testing.assert_array_equal(np.asarray(r).astype(np.float32),
                                  (a.astype(np.float32) * b.astype(np.float32)))


def test_incompatible_shapes_raise_the_errors_jax_raises():
    # JAX 0.10.2: operands of one rank reach lax (TypeError); of different ranks, jnp's
    # own broadcast refuses them first (ValueError)
    with pytest.raises(TypeError, match=r'add.*\(3,\).*\(4,\)'):
        jnp.ones(3) + jnp.ones(4)
    with pytest.raises(ValueError, match=r'add.*\(2, 3\).*\(4,\)'):
        jnp.ones((2, 3)) + jnp.ones(4)
    from tinyjax import lax
    with pytest.raises(TypeError, match=r'add.*\(3,\).*\(4,\)'):     # lax: TypeError
        lax.add(jnp.ones(3), jnp.ones(4))
