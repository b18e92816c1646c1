"""jax.debug.print and callback: called with concrete values under jit, grad and vmap."""
import numpy as np

import tinyjax as jax
import tinyjax.numpy as jnp


def _f(log):
    def f(x):
        jax.debug.callback(lambda v: log.append(np.array(v)), x)
        y = jnp.sin(x)
        jax.debug.callback(lambda v: log.append(np.array(v)), y)
        return y.sum()
    return f


def test_eager_jit_and_grad_call_once_each():
    x = jnp.arange(3.0)
    for wrap in (lambda f: f, jax.jit, jax.grad, lambda f: jax.jit(jax.grad(f))):
        log = []
        wrap(_f(log))(x)
        assert len(log) == 2, wrap
        np.testing.assert_allclose(log[0], [0, 1, 2])
        np.testing.assert_allclose(log[1], np.sin([0, 1, 2]), rtol=1e-6)


def test_vmap_calls_once_per_example_and_passes_keep_effects():
    log = []
    jax.vmap(_f(log))(jnp.arange(4.0).reshape(2, 2))
    assert [v.tolist() for v in log[:2]] == [[0, 1], [2, 3]]
    calls = []
    # Two identical callbacks whose results nobody uses: neither DCE nor CSE may drop one.
    g = jax.jit(lambda x: (jax.debug.callback(calls.append, x), jax.debug.callback(calls.append, x), x)[2])
    g(jnp.ones(2))
    assert len(calls) == 2


def test_print_formats(capsys):
    jax.jit(lambda x: jax.debug.print('x={x} y={}', x + 1, x=x))(jnp.asarray(2.0))
    assert capsys.readouterr().out.strip() == 'x=2.0 y=3.0'
