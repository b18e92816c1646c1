"""Dtypes, shapes, weak types and values of ~130 everyday expressions, against the
lines JAX 0.10.2 printed for the same expressions (tests/data/jax_parity.*)."""
import pathlib
import sys

import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import jax_parity  # noqa: E402

RECORDED = dict(line.split(' | ', 1) for line in (DATA / 'jax_parity.txt').read_text().splitlines())


@pytest.mark.parametrize('expr', jax_parity.EXPRS)
def test_matches_jax(expr):
    assert jax_parity.describe(jax, jnp, lax, expr) == f'{expr} | {RECORDED[expr]}'
