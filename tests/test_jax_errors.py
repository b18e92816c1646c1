"""Bad input raises the error class JAX raises (recorded in tests/data/jax_errors.txt)."""
import builtins
import pathlib
import sys

import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import errors, lax

DATA = pathlib.Path(__file__).parent / 'data'
sys.path.insert(0, str(DATA))
import jax_errors  # noqa: E402

RECORDED = dict(line.rsplit(' | ', 1) for line in (DATA / 'jax_errors.txt').read_text().splitlines())


@pytest.mark.parametrize('expr', jax_errors.EXPRS)
def test_raises_what_jax_raises(expr):
    want = RECORDED[expr]
    err = jax_errors.raised(jax, jnp, lax, expr)
    if want == 'OK':
        assert err is None, repr(err)
        return
    cls = getattr(builtins, want, None) or getattr(errors, want)
    assert isinstance(err, cls), f'{expr}: JAX raises {want}, tinyjax raised {err!r}'
    assert str(err), 'an error must say what went wrong'
