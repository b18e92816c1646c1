"""jax.ad_checkpoint and jax.checkpoint_policies: what the forward pass saves under each
policy (print_saved_residuals, and the recomputation left in the backward graph), and
the derivatives through it. Expected listings and values were recorded from JAX 0.10.2
on the CPU (tests/data/ad_checkpoint_jax.json; JAX's lines end in a source location,
cut off there because tinyjax records none)."""
import contextlib
import io
import json
import os

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax.ad_checkpoint import checkpoint_name, print_saved_residuals
from tinyjax.test_util import check_grads

cp = jax.checkpoint_policies

with open(os.path.join(os.path.dirname(__file__), 'data', 'ad_checkpoint_jax.json')) as fh:
    RECORDED = json.load(fh)


def f(W1, W2, x):
    h = jnp.sin(W1 @ x)
    h = checkpoint_name(h, 'h1')
    z = checkpoint_name(W2 @ h, 'z')
    return jnp.sum(jnp.sin(z) * x[:3])


def g(p, xs):      # a batched product (batch dims) and a pytree argument
    y = jnp.einsum('bij,bj->bi', p['a'], xs)
    return jnp.sum(jnp.tanh(y) @ p['b'])


W1 = jnp.asarray(np.linspace(-1, 1, 12).reshape(4, 3), jnp.float32)
W2 = jnp.asarray(np.linspace(1, -0.5, 12).reshape(3, 4), jnp.float32)
X = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
P = {'a': jnp.asarray(np.linspace(-1, 1, 24).reshape(2, 3, 4), jnp.float32),
     'b': jnp.asarray([1., -2., 0.5], jnp.float32)}
XS = jnp.asarray(np.linspace(0, 1, 8).reshape(2, 4), jnp.float32)

POLICIES = {
    'none': None, 'everything': cp.everything_saveable, 'nothing': cp.nothing_saveable,
    'dots': cp.dots_saveable, 'dots_nb': cp.dots_with_no_batch_dims_saveable,
    'only_h1': cp.save_only_these_names('h1'), 'but_h1': cp.save_any_names_but_these('h1'),
    'both': cp.save_from_both_policies(cp.save_only_these_names('z'),
                                       cp.dots_with_no_batch_dims_saveable),
}


def _listing(fn, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_saved_residuals(fn, *args)
    return out.getvalue().splitlines()


def test_saved_residuals_without_checkpoint():
    assert _listing(f, W1, W2, X) == RECORDED['f']['plain']
    assert _listing(g, P, XS) == RECORDED['g']['plain']


@pytest.mark.parametrize('policy', list(POLICIES))
def test_saved_residuals_under_each_policy(policy):
    pol = POLICIES[policy]
    assert _listing(jax.checkpoint(f, policy=pol), W1, W2, X) == RECORDED['f'][policy]
    assert _listing(jax.checkpoint(g, policy=pol), P, XS) == RECORDED['g'][policy]


def test_offload_policy_saves_in_place():
    # JAX moves 'z' to host memory ("f32<host>[3] output of device_put"); tinyjax keeps it.
    pol = cp.save_and_offload_only_these_names(
        names_which_can_be_saved=['h1'], names_which_can_be_offloaded=['z'],
        offload_src='device', offload_dst='pinned_host')
    assert _listing(jax.checkpoint(f, policy=pol), W1, W2, X)[3:] == ["f32[4] named 'h1'",
                                                                     "f32[3] named 'z'"]
    with pytest.raises(ValueError, match='both saved and offloaded'):
        cp.save_and_offload_only_these_names(names_which_can_be_saved=['a'],
                                             names_which_can_be_offloaded=['a'],
                                             offload_src='device', offload_dst='pinned_host')


def _count(graph, prim_name):
    """Equations of `prim_name` in a graph and every graph nested in its parameters."""
    n = 0
    for e in graph.eqns:
        n += e.primitive.name == prim_name
        for v in e.params.values():
            for sub in (v if isinstance(v, (list, tuple)) else [v]):
                if isinstance(sub, jax.core.Jaxpr):
                    n += _count(sub, prim_name)
    return n


def test_backward_graph_recomputes_only_what_was_not_saved():
    def grad_graph(policy):
        fn = jax.grad(jax.checkpoint(f, policy=policy), argnums=(0, 1, 2))
        return jax.make_jaxpr(fn)(W1, W2, X).jaxpr
    # The forward's two products run once more in the backward pass unless saved.
    assert _count(grad_graph(cp.nothing_saveable), 'dot_general') == \
        _count(grad_graph(cp.dots_saveable), 'dot_general') + 2
    # sin of the first product: recomputed unless h1 is saved.
    assert _count(grad_graph(cp.nothing_saveable), 'sin') == \
        _count(grad_graph(cp.save_only_these_names('h1')), 'sin') + 1


def test_gradients_through_policies_match_jax():
    want = RECORDED['grad_f']
    for policy in POLICIES.values():
        got = jax.grad(jax.checkpoint(f, policy=policy), argnums=(0, 1, 2))(W1, W2, X)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    got = jax.jit(jax.grad(jax.checkpoint(f, policy=cp.dots_saveable), argnums=(0, 1, 2)))(W1, W2, X)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
    got = jax.grad(jax.checkpoint(g, policy=cp.save_only_these_names('h1')))(P, XS)
    for k in ('a', 'b'):
        np.testing.assert_allclose(got[k], RECORDED['grad_g'][k], rtol=2e-6, atol=2e-7)
    hess = jax.hessian(jax.checkpoint(f, policy=cp.dots_saveable), argnums=2)(W1, W2, X)
    np.testing.assert_allclose(hess, RECORDED['hess_f_x'], rtol=2e-6, atol=3e-7)


def test_policy_checkpoint_composes_with_vmap_and_second_order(x64):
    def h(x, w):
        z = checkpoint_name(jnp.tanh(w @ x), 'z')
        return jnp.sum(jnp.sin(z) ** 2)
    w = np.linspace(-0.7, 0.9, 6).reshape(2, 3)
    x = np.array([0.3, -0.4, 0.8])
    check_grads(jax.checkpoint(h, policy=cp.save_only_these_names('z')), (x, w), order=2)
    check_grads(jax.checkpoint(h, policy=cp.dots_saveable), (x, w), order=2)
    xs = jnp.asarray(np.stack([x, 2 * x, -x]), jnp.float32)
    wf = jnp.asarray(w, jnp.float32)
    batched = jax.vmap(jax.grad(jax.checkpoint(h, policy=cp.dots_saveable)), (0, None))(xs, wf)
    plain = jnp.stack([jax.grad(h)(xi, wf) for xi in xs])
    np.testing.assert_allclose(batched, plain, rtol=1e-6, atol=1e-7)


def test_checkpoint_name_is_the_identity():
    x = jnp.arange(3.0)
    np.testing.assert_array_equal(checkpoint_name(x, 'a'), x)
    np.testing.assert_array_equal(jax.jit(lambda v: checkpoint_name(v * 2, 'a'))(x), [0., 2., 4.])
    np.testing.assert_array_equal(jax.grad(lambda v: jnp.sum(checkpoint_name(v, 'a') ** 2))(x),
                                  [0., 2., 4.])
    assert "name[name='a']" in str(jax.make_jaxpr(lambda v: checkpoint_name(v, 'a'))(x))
