"""lax.cond / switch / while_loop / fori_loop / scan / map: values, derivatives, vmap, jit,
make_jaxpr and JAX's errors. Oracle values were recorded from JAX 0.10.2 on the CPU."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.test_util import check_grads

W = (np.arange(9.).reshape(3, 3) / 10 - 0.4).astype(np.float32)
H0 = np.array([0.1, -0.2, 0.3], np.float32)
XS = (np.arange(12.).reshape(4, 3) / 7 - 0.5).astype(np.float32)


def rnn(w, h, xs):
    def step(h, x):
        h = jnp.tanh(w @ h + x)
        return h, jnp.sum(h * h)
    h, ys = lax.scan(step, h, xs)
    return jnp.sum(h) + jnp.sum(ys)


def rnn_numpy(w, h, xs):
    ys = []
    for x in xs:
        h = np.tanh(w @ h + x)
        ys.append(np.sum(h * h))
    return np.sum(h) + np.sum(ys)


def collatz(n):
    def body(c):
        n, k = c
        return jnp.where(n % 2 == 0, n // 2, 3 * n + 1), k + 1
    return lax.while_loop(lambda c: c[0] != 1, body, (n, 0))[1]


def newton_sqrt(a):
    return lax.while_loop(lambda x: jnp.abs(x * x - a) > 1e-5, lambda x: 0.5 * (x + a / x), a)


def fori_poly(x):
    return lax.fori_loop(1, 5, lambda i, acc: acc * x + i, 0.0)


# --- values ---------------------------------------------------------------------------
def test_cond_picks_branch_and_passes_pytrees():
    f = lambda p, x: lax.cond(p, lambda t: {'a': t[0] * 2, 'b': t[1]}, lambda t: {'a': t[0] + 1, 'b': -t[1]}, x)
    out = f(True, (jnp.float32(3), jnp.arange(3)))
    assert float(out['a']) == 6.0 and out['b'].tolist() == [0, 1, 2]
    out = f(False, (jnp.float32(3), jnp.arange(3)))
    assert float(out['a']) == 4.0 and out['b'].tolist() == [0, -1, -2]
    assert float(lax.cond(0, lambda: 1.0, lambda: 2.0)) == 2.0          # int predicate
    assert float(lax.cond(jnp.int32(3), lambda: 1.0, lambda: 2.0)) == 1.0


def test_cond_output_weak_types_join_as_in_jax():
    assert lax.cond(True, lambda: 1.0, lambda: 2.0).weak_type
    out = lax.cond(True, lambda: 1.0, lambda: jnp.float32(2.0))
    assert out.dtype == np.float32 and not out.weak_type


def test_switch_clamps_index():
    branches = [lambda x: x, lambda x: -x, jnp.sin]
    for i, want in [(-3, 1.0), (0, 1.0), (1, -1.0), (2, np.sin(1.0)), (7, np.sin(1.0))]:
        np.testing.assert_allclose(lax.switch(i, branches, 1.0), want, rtol=1e-6)
    assert float(lax.switch(5, [lambda: 4.0])) == 4.0


def test_while_loop_values():
    assert [int(collatz(v)) for v in (1, 6, 7, 27)] == [0, 8, 16, 111]    # JAX
    out = lax.while_loop(lambda c: c < 10, lambda c: c * 2., 1)           # weak int carry
    assert float(out) == 16.0 and out.dtype == np.float32


def test_fori_loop_values_and_counter_dtype():
    assert float(fori_poly(1.5)) == 16.375                                 # JAX
    out = lax.fori_loop(0, 3, lambda i, x: x + i, 0)
    assert int(out) == 3 and out.dtype == np.int32
    seen = []
    lax.fori_loop(jnp.int16(0), 3, lambda i, x: (seen.append(i.dtype), x)[1], 0.0)
    assert seen == [np.int16]
    assert float(lax.fori_loop(5, 2, lambda i, x: x + 1.0, 0.0)) == 0.0    # empty range


def test_scan_values():
    np.testing.assert_allclose(rnn(W, H0, XS), 4.669178, rtol=1e-5)        # JAX
    np.testing.assert_allclose(rnn(W, H0, XS), rnn_numpy(W, H0, XS), rtol=1e-5)
    c, ys = lax.scan(lambda c, x: (c + x, c + x), 0.0, jnp.arange(1., 6.), reverse=True)
    assert float(c) == 15.0 and ys.tolist() == [15.0, 14.0, 12.0, 9.0, 5.0]   # JAX
    c, ys = lax.scan(lambda c, x: (c + 1, None), 0, None, length=3)
    assert int(c) == 3 and ys is None
    c, ys = lax.scan(lambda c, x: (c + x, c), 0, jnp.arange(3.))          # weak carry promoted
    assert c.dtype == np.float32 and ys.tolist() == [0.0, 0.0, 1.0]
    c, ys = lax.scan(lambda c, x: (c, {'y': x['a'] * 2}), 1.0, {'a': jnp.zeros((0, 2))})
    assert ys['y'].shape == (0, 2)


def test_map():
    xs = np.arange(7.).astype(np.float32)
    np.testing.assert_allclose(lax.map(lambda x: x * 2 + 1, xs), xs * 2 + 1)
    np.testing.assert_allclose(lax.map(lambda x: jnp.sin(x), xs, batch_size=3), np.sin(xs), rtol=1e-6)
    out = lax.map(lambda p: (p[0] + p[1], p[0] * p[1]), (xs, xs))
    np.testing.assert_allclose(out[1], xs * xs)


def test_closing_over_traced_values():
    def f(x, y):
        return lax.cond(x > 0, lambda: x * y, lambda: y - x) + \
            lax.scan(lambda c, _: (c * y, None), x, None, length=3)[0]
    for x, y in [(2.0, 3.0), (-1.0, 0.5)]:
        want = (x * y if x > 0 else y - x) + x * y ** 3
        np.testing.assert_allclose(f(x, y), want, rtol=1e-6)
        np.testing.assert_allclose(jax.jit(f)(x, y), want, rtol=1e-6)


# --- derivatives ----------------------------------------------------------------------
def test_grad_values_match_jax():
    g = jax.grad(rnn, argnums=(0, 1, 2))(W, H0, XS)
    np.testing.assert_allclose(g[1], [0.3926090598106384, 0.21295693516731262, 0.033304788172245026], rtol=1e-5)
    np.testing.assert_allclose(g[0][0], [-0.08346139639616013, 0.6346650123596191, 0.5709822773933411], rtol=1e-5)
    np.testing.assert_allclose(g[2][3], [1.5145965814590454, 1.1016955375671387, 0.5133308172225952], rtol=1e-5)
    piecewise = lambda x: lax.cond(x > 1.0, lambda x: x ** 3, lambda x: jnp.sin(x) * 2.0, x)
    np.testing.assert_allclose([jax.grad(piecewise)(v) for v in (0.5, 2.0)], [1.7551651, 12.0], rtol=1e-6)
    sw = lambda i, x: lax.switch(i, [jnp.sin, jnp.cos, lambda x: x * x, jnp.exp], x)
    np.testing.assert_allclose([jax.grad(sw, 1)(i, 0.7) for i in (-1, 0, 1, 2, 3, 9)],
                               [0.7648422, 0.7648422, -0.6442177, 1.4, 2.0137527, 2.0137527],
                               rtol=1e-6)
    assert [float(jax.grad(fori_poly)(1.5)), float(jax.grad(jax.grad(fori_poly))(1.5))] == [15.75, 13.0]
    np.testing.assert_allclose(jax.jvp(newton_sqrt, (2.0,), (1.0,)), [1.4142157, 0.35356593], rtol=1e-5)
    hess = jax.hessian(lambda x: lax.scan(lambda c, x: (c * jnp.sin(x), c), 1.0, x)[0])(
        jnp.array([0.3, 0.5, 0.9]))
    np.testing.assert_allclose(hess, [[-0.11098171, 0.65673083, 0.28470528],
                                      [0.65673083, -0.11098171, 0.16121043],
                                      [0.28470528, 0.16121043, -0.11098171]], rtol=1e-5, atol=1e-6)


X3 = np.array([0.3, -0.7, 1.2])
W3 = np.random.default_rng(0).standard_normal((3, 3)) * 0.5


@pytest.mark.parametrize('name,f,args', [
    ('cond_true', lambda x: lax.cond(x.sum() > 0, lambda x: jnp.sin(x) * x, jnp.cos, x), (X3,)),
    ('cond_false', lambda x: lax.cond(x.sum() < 0, lambda x: jnp.sin(x) * x, jnp.cos, x), (X3,)),
    ('cond_closure', lambda x, y: lax.cond(True, lambda a: a * y, lambda a: a + jnp.exp(y), x), (X3, X3 + 1)),
    ('switch', lambda x, w: lax.switch(2, [lambda x: (x, w @ x), lambda x: (x * 2, w.sum() * x),
                                           lambda x: (jnp.tanh(w @ x), x * x)], x), (X3, W3)),
    ('scan', lambda c, xs: lax.scan(lambda c, x: (jnp.sin(c) * x + c, c * x), c, xs), (X3[0], X3)),
    ('scan_rnn', lambda w, h: lax.scan(lambda h, x: (jnp.tanh(w @ h + x), h.sum()), h,
                                       jnp.ones((4, 3)))[0], (W3, X3)),
    ('scan_reverse', lambda c, xs: lax.scan(lambda c, x: (c * x + 1, c), c, xs, reverse=True), (X3[0], X3)),
    ('scan_cond_inside', lambda c, xs: lax.scan(
        lambda c, x: (lax.cond(x > 0, lambda c: c * x, lambda c: jnp.sin(c), c), c), c, xs), (X3[0], X3)),
    ('fori', lambda x: lax.fori_loop(0, 3, lambda i, x: jnp.sin(x) * (i + 1.), x), (X3,)),
    ('map', lambda xs: lax.map(lambda x: jnp.sin(x) * x, xs), (X3,)),
])
def test_check_grads_both_modes(x64, name, f, args):
    check_grads(f, args, order=2, modes=('fwd', 'rev'))


def test_while_loop_forward_mode(x64):
    f = lambda x: lax.while_loop(lambda c: c[1] < 4, lambda c: (jnp.sin(c[0]) * 1.5, c[1] + 1), (x, 0))[0]
    check_grads(f, (X3,), order=2, modes=('fwd',))
    g = lambda x, n: lax.fori_loop(0, n, lambda i, x: x * jnp.cos(x), x)   # traced bound
    check_grads(lambda x: jax.jit(g)(x, 3), (X3,), order=1, modes=('fwd',))
    lin_out, f_jvp = jax.linearize(newton_sqrt, 2.0)
    np.testing.assert_allclose(f_jvp(1.0), 0.35356593, rtol=1e-5)


def test_reverse_mode_of_while_loop_raises():
    with pytest.raises(ValueError, match='Reverse-mode differentiation does not work for lax.while_loop'):
        jax.grad(lambda x: lax.while_loop(lambda c: c < 10., lambda c: c * 2., x))(1.)
    f = lambda x, n: lax.fori_loop(0, n, lambda i, x: x * x, x)
    with pytest.raises(ValueError, match='Reverse-mode'):
        jax.grad(jax.jit(f))(1.1, 3)
    # Static bounds: fori_loop is a scan and reverse mode works.
    np.testing.assert_allclose(jax.grad(f)(1.1, 3), 8 * 1.1 ** 7, rtol=1e-5)


# --- vmap -----------------------------------------------------------------------------
def _loop(f, *args):
    return np.stack([np.asarray(f(*a)) for a in zip(*args)])


def test_vmap_cond_batched_and_unbatched_predicate():
    f = lambda p, x: lax.cond(p, lambda x: x * 2, lambda x: jnp.sin(x) + 1., x)
    ps, xs = np.array([True, False, True]), np.arange(6.).reshape(3, 2).astype(np.float32)
    np.testing.assert_allclose(jax.vmap(f)(ps, xs), _loop(f, ps, xs), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(f, (None, 0))(False, xs), np.sin(xs) + 1, rtol=1e-6)
    g = lambda i, x: lax.switch(i, [lambda x: x, lambda x: -x, lambda x: x * x], x)
    idx = np.array([0, 2, 1, 9])
    xv = np.arange(4.).astype(np.float32)
    np.testing.assert_allclose(jax.vmap(g)(idx, xv), _loop(g, idx, xv))
    # Only the closed-over value is batched.
    h = lambda y: lax.cond(True, lambda: y * 3., lambda: y)
    np.testing.assert_allclose(jax.vmap(h)(xv), xv * 3)


def test_vmap_while_loop_batched_predicate():
    ns = np.array([1, 6, 7, 27])
    assert jax.vmap(collatz)(ns).tolist() == [0, 8, 16, 111]              # JAX
    f = lambda x, lim: lax.while_loop(lambda c: c[0] < lim, lambda c: (c[0] * 2, c[1] + 1), (x, 0))
    xs, lims = np.array([1., 3., 20.], np.float32), np.array([10., 100., 5.], np.float32)
    out = jax.vmap(f)(xs, lims)
    ref = [f(x, lim) for x, lim in zip(xs, lims)]
    np.testing.assert_allclose(out[0], [r[0] for r in ref])
    assert out[1].tolist() == [int(r[1]) for r in ref]
    # Unbatched predicate, batched carry.
    g = lambda x: lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * c[0], c[1] + 1), (x, 0))[0]
    np.testing.assert_allclose(jax.vmap(g)(xs), xs ** 8)


def test_vmap_scan_batched_carry_and_xs():
    f = lambda h, xs: rnn(W, h, xs)
    hs = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    xss = np.random.default_rng(2).standard_normal((5, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(jax.vmap(f)(hs, xss), _loop(f, hs, xss), rtol=1e-5)
    np.testing.assert_allclose(jax.vmap(f, (0, None))(hs, XS), _loop(lambda h: f(h, XS), hs), rtol=1e-5)
    # xs batched along a later axis; the carry becomes batched only through the body.
    g = lambda xs: lax.scan(lambda c, x: (c + x, c * 2), 0.0, xs)
    xb = np.arange(12.).reshape(4, 3).astype(np.float32)
    c, ys = jax.vmap(g, in_axes=1)(xb)
    np.testing.assert_allclose(c, xb.sum(0))
    np.testing.assert_allclose(ys, np.stack([np.asarray(g(xb[:, i])[1]) for i in range(3)]))


def test_vmap_of_grad_and_grad_of_vmap():
    f = lambda h: rnn(W, h, XS)
    hs = np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
    want = np.stack([np.asarray(jax.grad(f)(h)) for h in hs])
    np.testing.assert_allclose(jax.vmap(jax.grad(f))(hs), want, rtol=1e-5)
    np.testing.assert_allclose(jax.grad(lambda hs: jax.vmap(f)(hs).sum())(hs), want, rtol=1e-5)
    p = lambda x: lax.cond(x > 0.5, lambda x: x ** 2, jnp.sin, x)
    xs = np.array([0.2, 0.9, 1.5], np.float32)
    np.testing.assert_allclose(jax.vmap(jax.grad(p))(xs), np.where(xs > 0.5, 2 * xs, np.cos(xs)), rtol=1e-6)


# --- jit and make_jaxpr ---------------------------------------------------------------
def test_jit_equals_eager():
    cases = [
        (rnn, (W, H0, XS)),
        (jax.grad(rnn, argnums=(0, 1)), (W, H0, XS)),
        (lambda p, x: lax.cond(p, lambda x: x * 2, jnp.sin, x), (True, XS)),
        (lambda i, x: lax.switch(i, [jnp.sin, jnp.cos, jnp.tanh], x), (1, XS)),
        (collatz, (27,)),
        (lambda x, n: lax.fori_loop(0, n, lambda i, x: x * 1.1 + i, x), (H0, 5)),
        (fori_poly, (1.5,)),
        (jax.vmap(collatz), (np.array([3, 7]),)),
        (lambda xs: lax.map(jnp.sin, xs), (XS,)),
    ]
    for f, args in cases:
        got, want = jax.jit(f)(*args), f(*args)
        # Under jit the bodies run as compiled kernels, whose sin/tanh may differ from
        # NumPy's by an ulp.
        for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_make_jaxpr_shows_one_equation_with_graphs():
    s = str(jax.make_jaxpr(lambda p, x: lax.cond(p, lambda x: x * 2, lambda x: x + 1., x))(True, 1.0))
    assert s.count('= cond[') == 1 and 'branches=' in s and 'mul' in s and 'add' in s
    s = str(jax.make_jaxpr(lambda c, xs: lax.scan(lambda c, x: (c * x, c), c, xs))(1.0, jnp.arange(3.)))
    assert s.count('= scan[') == 1 and 'length=3' in s and 'num_carry=1' in s
    s = str(jax.make_jaxpr(lambda x, n: lax.fori_loop(0, n, lambda i, x: x + i, x))(1.0, 3))
    assert s.count('= while[') == 1 and 'lt' in s
    s = str(jax.make_jaxpr(lambda x: lax.fori_loop(0, 3, lambda i, x: x + i, x))(1.0))
    assert '= scan[' in s


# --- errors ---------------------------------------------------------------------------
def test_cond_errors():
    with pytest.raises(TypeError, match='cond branches must have equal output types'):
        lax.cond(True, lambda x: x, lambda x: x[:2], jnp.ones(3))
    with pytest.raises(TypeError, match='so the dtypes do not match'):
        lax.cond(True, lambda x: x, lambda x: x.astype(jnp.int32), jnp.ones(3))
    with pytest.raises(TypeError, match='int32\\[\\] but the corresponding output of false_fun has type float32'):
        lax.cond(True, lambda: 1, lambda: 1.0)
    with pytest.raises(TypeError, match='same pytree structure'):
        lax.cond(True, lambda x: (x, x), lambda x: x, jnp.ones(3))
    with pytest.raises(TypeError, match='Pred must be a scalar'):
        lax.cond(jnp.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match='cond predicate is None'):
        lax.cond(None, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match='should be callable'):
        lax.cond(True, 1, 2)


def test_switch_errors():
    with pytest.raises(ValueError, match='Empty branch sequence'):
        lax.switch(0, [])
    with pytest.raises(TypeError, match='Index type must be an integer'):
        lax.switch(1.0, [lambda: 1.0, lambda: 2.0])
    with pytest.raises(TypeError, match='Branch index must be scalar'):
        lax.switch(jnp.array([1]), [lambda: 1.0, lambda: 2.0])
    with pytest.raises(TypeError, match='switch branches must have equal output types'):
        lax.switch(0, [lambda: 1.0, lambda: jnp.ones(2)])


def test_loop_errors():
    with pytest.raises(TypeError, match='scan body function carry input and carry output must have equal types'):
        lax.scan(lambda c, x: (jnp.stack([c, c]), c), jnp.float32(0), jnp.arange(3.))
    with pytest.raises(TypeError, match='float32\\[\\] but the corresponding output carry component has type int32'):
        lax.scan(lambda c, x: (c.astype(jnp.int32), c), jnp.float32(0), jnp.arange(3.))
    with pytest.raises(TypeError, match='same pytree structure'):
        lax.scan(lambda c, x: ((c, c), c), jnp.float32(0), jnp.arange(3.))
    with pytest.raises(TypeError, match='scan body output must be a pair'):
        lax.scan(lambda c, x: c, 0.0, jnp.arange(3.))
    with pytest.raises(ValueError, match='different leading axis sizes: 3, 4'):
        lax.scan(lambda c, x: (c, x), 0.0, (jnp.arange(3.), jnp.arange(4.)))
    with pytest.raises(ValueError, match='`length` not provided'):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match='`length` argument of 4'):
        lax.scan(lambda c, x: (c, x), 0.0, jnp.arange(3.), length=4)
    with pytest.raises(TypeError, match='while_loop body function carry input and carry output must have equal types'):
        lax.while_loop(lambda c: c[0] < 10, lambda c: jnp.concatenate([c, c]), jnp.ones(1))
    with pytest.raises(TypeError, match='cond_fun must return a boolean scalar'):
        lax.while_loop(lambda c: c < 10., lambda c: c * 2., jnp.ones(2))
    with pytest.raises(TypeError, match='cond_fun must return a boolean scalar'):
        lax.while_loop(lambda c: c, lambda c: c * 2., 1.0)
    with pytest.raises(TypeError, match='body_fun argument should be callable'):
        lax.fori_loop(0, 3, 5, 0)


def test_collectives_inside_loops_under_named_vmap():
    xs = np.arange(6.).reshape(2, 3).astype(np.float32)
    c, ys = jax.vmap(lambda x: lax.scan(lambda c, y: (c + lax.psum(y, 'i'), c), 0.0, x),
                     axis_name='i')(xs)
    assert c.tolist() == [15.0, 15.0] and ys.tolist() == [[0, 3, 8], [0, 3, 8]]
    out = jax.vmap(lambda x: lax.cond(True, lambda: lax.psum(1.0, 'i'), lambda: 0.0),
                   axis_name='i')(xs[0])
    assert out.tolist() == [3.0, 3.0, 3.0]
    out = jax.vmap(lambda x: lax.while_loop(lambda c: c < 5, lambda c: c + lax.psum(1, 'i'), 0),
                   axis_name='i')(xs[0])
    assert out.tolist() == [6, 6, 6]


def test_nested_control_flow(x64):
    x = np.array([0.3, -0.7, 1.2])
    f = lambda x: lax.cond(x[0] > 0, lambda x: lax.scan(lambda c, y: (c * y, c), 1.0, x)[0],
                           lambda x: x.sum(), x)
    check_grads(f, (x,), order=2)
    g = lambda x: lax.fori_loop(0, 2, lambda i, x: lax.fori_loop(
        0, 2, lambda j, x: jnp.sin(x) * x + i * j, x), x)
    check_grads(g, (x,), order=2)
    h = lambda v: lax.while_loop(lambda c: c < 10, lambda c: lax.cond(c > 3, lambda c: c * 2.,
                                                                      lambda c: c + 1., c), v)
    assert jax.vmap(h)(jnp.array([0., 5., 11.])).tolist() == [16.0, 10.0, 11.0]
    k = lambda x: lax.scan(lambda c, y: (lax.cond(y > 0, lambda c: c * y, jnp.sin, c), None), 1.5, x)[0]
    xs = np.stack([x, -x])
    np.testing.assert_allclose(jax.vmap(jax.grad(k))(xs), [jax.grad(k)(r) for r in xs], rtol=1e-12)
    jf = jax.jacfwd(lambda x: lax.while_loop(lambda c: c[1] < 3,
                                             lambda c: (jnp.sin(c[0]), c[1] + 1), (x, 0))[0])(x)
    s1 = np.sin(x)
    s2 = np.sin(s1)
    np.testing.assert_allclose(np.diag(jf), np.cos(s2) * np.cos(s1) * np.cos(x), rtol=1e-12)


def test_bodies_are_compiled_under_jit_only():
    from tinyjax.compiler import program
    body_count = lambda: sum(len(v) for v in program._body_programs.values())
    f = lambda x: lax.scan(lambda c, v: (jnp.tanh(c * v + 1.0), c), x, jnp.arange(3.0))[0]
    before = body_count()
    f(0.5)                                   # eager: the body runs primitive by primitive
    assert body_count() == before
    jf = jax.jit(f)
    np.testing.assert_allclose(jf(0.5), f(0.5), rtol=1e-6)
    assert body_count() == before + 1        # under jit: compiled once ...
    jf(0.7)
    assert body_count() == before + 1        # ... and reused
