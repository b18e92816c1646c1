"""Derivatives of every primitive against finite differences (float64), both modes,
orders 1 and 2; the differentiation API and its errors."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.core.primitive import registry
from tinyjax.test_util import check_grads


@pytest.fixture(autouse=True)
def _x64(x64):
    yield


def _r(*shape, lo=-1.5, hi=1.5, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


UNARY = {
    'exp': (jnp.exp, None), 'exp2': (jnp.exp2, None), 'log': (jnp.log, (0.3, 2)),
    'log1p': (jnp.log1p, (-0.5, 2)), 'expm1': (jnp.expm1, None), 'tanh': (jnp.tanh, None),
    'logistic': (lax.logistic, None), 'sin': (jnp.sin, None), 'cos': (jnp.cos, None),
    'tan': (jnp.tan, (-1, 1)), 'asin': (jnp.arcsin, (-0.8, 0.8)),
    'acos': (jnp.arccos, (-0.8, 0.8)), 'atan': (jnp.arctan, None), 'sinh': (jnp.sinh, None),
    'cosh': (jnp.cosh, None), 'asinh': (jnp.arcsinh, None), 'acosh': (jnp.arccosh, (1.2, 3)),
    'atanh': (jnp.arctanh, (-0.8, 0.8)), 'sqrt': (jnp.sqrt, (0.3, 2)),
    'rsqrt': (lax.rsqrt, (0.3, 2)), 'cbrt': (jnp.cbrt, (0.3, 2)), 'erf': (lax.erf, None),
    'erf_inv': (lax.erf_inv, (-0.8, 0.8)), 'abs': (jnp.abs, None), 'square': (jnp.square, None),
    'neg': (jnp.negative, None), 'integer_pow': (lambda x: x ** 3, None),
    'integer_pow_neg': (lambda x: lax.integer_pow(x, -2), (0.5, 2)),
    'copy': (lambda x: x.copy(), None), 'convert': (lambda x: x.astype(jnp.float32).astype(jnp.float64), None),
}


@pytest.mark.parametrize('name', sorted(UNARY))
def test_unary_grads(name):
    f, dom = UNARY[name]
    lo, hi = dom or (-1.5, 1.5)
    x = _r(2, 3, lo=lo, hi=hi)
    eps = 1e-4
    tol = dict(atol=1e-3, rtol=1e-3) if name == 'convert' else {}
    check_grads(f, (x,), order=2, eps=eps, **tol)


BINARY = {
    'add': jnp.add, 'sub': jnp.subtract, 'mul': jnp.multiply, 'div': jnp.divide,
    'pow': lambda x, y: jnp.power(jnp.abs(x) + 0.5, y), 'max': jnp.maximum, 'min': jnp.minimum,
    'atan2': jnp.arctan2, 'rem': lambda x, y: jnp.fmod(x, jnp.abs(y) + 2.0),
    'hypot': jnp.hypot, 'logaddexp': jnp.logaddexp,
}


@pytest.mark.parametrize('name', sorted(BINARY))
@pytest.mark.parametrize('shapes', [((3,), (3,)), ((2, 3), (3,)), ((), (2,))])
def test_binary_grads(name, shapes):
    x, y = _r(*shapes[0], seed=1), _r(*shapes[1], seed=2)
    check_grads(BINARY[name], (x, y), order=2)


STRUCTURAL = {
    'broadcast': lambda x: jnp.broadcast_to(x, (4, 2, 3)),
    'reshape': lambda x: jnp.reshape(x, (3, 2)),
    'transpose': lambda x: x.T,
    'squeeze_expand': lambda x: jnp.squeeze(jnp.expand_dims(x, 0), 0),
    'rev': lambda x: jnp.flip(x, 1),
    'slice': lambda x: lax.slice(x, (0, 1), (2, 3)),
    'slice_strided': lambda x: lax.slice(x, (0, 0), (2, 3), (1, 2)),
    'pad': lambda x: jnp.pad(x, ((1, 2), (0, 1))),
    'pad_interior_negative': lambda x: lax.pad(x, jnp.asarray(0.5), ((-1, 2, 1), (1, -1, 2))),
    'concatenate': lambda x: jnp.concatenate([x, 2 * x, x[:1]] if False else [x, 2 * x], 1),
    'stack': lambda x: jnp.stack([x, x * x]),
    'tile': lambda x: jnp.tile(x, (2, 1)),
    'repeat': lambda x: jnp.repeat(x, 2, axis=1),
    'roll': lambda x: jnp.roll(x, 1, axis=1),
    'split': lambda x: jnp.split(x, 3, axis=1)[1],
    'select': lambda x: jnp.where(x > 0, x * x, jnp.sin(x)),
    'clamp': lambda x: lax.clamp(-0.5, x, 0.7),
    'clip': lambda x: jnp.clip(x, -0.5, 0.7),
}


@pytest.mark.parametrize('name', sorted(STRUCTURAL))
def test_structural_grads(name):
    check_grads(STRUCTURAL[name], (_r(2, 3, seed=3),), order=2)


REDUCTIONS = {
    'sum': lambda x: jnp.sum(x, axis=1), 'sum_all': jnp.sum, 'mean': lambda x: jnp.mean(x, 0),
    'max': lambda x: jnp.max(x, axis=1), 'min': lambda x: jnp.min(x, axis=0),
    'prod': lambda x: jnp.prod(x, axis=1), 'var': lambda x: jnp.var(x, axis=1),
    'std': lambda x: jnp.std(x), 'keepdims': lambda x: x - jnp.max(x, axis=1, keepdims=True),
}


@pytest.mark.parametrize('name', sorted(REDUCTIONS))
def test_reduction_grads(name):
    check_grads(REDUCTIONS[name], (_r(3, 4, seed=4),), order=2)


@pytest.mark.parametrize('spec', ['ij,jk->ik', 'bij,bjk->bik', 'ij,ij->', 'i,j->ij', 'bij,jk->bki'])
def test_dot_general_grads(spec):
    shapes = {'ij,jk->ik': ((2, 3), (3, 4)), 'bij,bjk->bik': ((2, 3, 4), (2, 4, 5)),
              'ij,ij->': ((2, 3), (2, 3)), 'i,j->ij': ((3,), (4,)), 'bij,jk->bki': ((2, 3, 4), (4, 5))}[spec]
    a, b = _r(*shapes[0], seed=5), _r(*shapes[1], seed=6)
    check_grads(lambda x, y: jnp.einsum(spec, x, y), (a, b), order=2)


def test_matmul_variants_grads():
    for sa, sb in [((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4))]:
        check_grads(jnp.matmul, (_r(*sa, seed=7), _r(*sb, seed=8)), order=1)


def test_stop_gradient():
    g = jax.grad(lambda x: jnp.sum(x * lax.stop_gradient(x) + x))(jnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 3.0])


def test_max_ties_split_like_jax():
    np.testing.assert_allclose(jax.grad(jnp.max)(jnp.asarray([1.0, 3.0, 3.0])), [0, 0.5, 0.5])
    np.testing.assert_allclose(jax.grad(lambda x: jnp.maximum(x, 1.0))(1.0), 0.5)


def test_prod_with_zeros():
    np.testing.assert_allclose(jax.grad(jnp.prod)(jnp.asarray([1.0, 0.0, 3.0])), [0, 3, 0])
    np.testing.assert_allclose(jax.grad(jnp.prod)(jnp.asarray([0.0, 0.0, 3.0])), [0, 0, 0])


def test_abs_and_sqrt_at_zero_like_jax():
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0
    assert np.isinf(float(jax.grad(jnp.sqrt)(0.0)))
    safe = lambda x: jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0)
    assert float(jax.grad(safe)(0.0)) == 0.0


def test_python_control_flow_outside_jit():
    f = lambda x: x ** 3 if x > 0 else -2 * x
    assert float(jax.grad(f)(2.0)) == 12.0
    assert float(jax.grad(f)(-2.0)) == -2.0


def test_higher_order_and_hessian():
    f = lambda x: jnp.sin(x) * x
    x = 0.7
    d3 = jax.grad(jax.grad(jax.grad(f)))(x)
    np.testing.assert_allclose(d3, -3 * np.sin(x) - x * np.cos(x), rtol=1e-10)
    h = jax.hessian(lambda v: jnp.sum(v ** 3) + v[0] * v[1] if False else jnp.sum(v ** 3))(jnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(h, np.diag([6.0, 12.0]))
    # Hessian-vector product: jvp of grad.
    g = jax.grad(lambda v: jnp.sum(jnp.sin(v)) * jnp.sum(v))
    v, t = jnp.asarray([0.1, 0.2, 0.3]), jnp.asarray([1.0, 0.0, 0.0])
    hvp = jax.jvp(g, (v,), (t,))[1]
    H = jax.hessian(lambda v: jnp.sum(jnp.sin(v)) * jnp.sum(v))(v)
    np.testing.assert_allclose(hvp, np.asarray(H) @ np.asarray(t), rtol=1e-10)


def test_jacobians():
    f = lambda x: jnp.stack([x[0] * x[1] if False else jnp.sum(x * x), jnp.prod(x)])
    x = jnp.asarray([1.0, 2.0, 3.0])
    jf, jr = jax.jacfwd(f)(x), jax.jacrev(f)(x)
    want = np.array([[2.0, 4.0, 6.0], [6.0, 3.0, 2.0]])
    np.testing.assert_allclose(jf, want)
    np.testing.assert_allclose(jr, want)
    j2 = jax.jacrev(lambda a, b: a * b, argnums=(0, 1))(jnp.asarray([1.0, 2.0]), 3.0)
    np.testing.assert_allclose(j2[0], np.diag([3.0, 3.0]))
    np.testing.assert_allclose(j2[1], [1.0, 2.0])


def test_value_and_grad_pytrees_and_aux():
    params = {'w': jnp.asarray([[1.0, 2.0], [3.0, 4.0]]), 'b': jnp.asarray([0.5, -0.5])}
    x = jnp.asarray([1.0, -1.0])

    def loss(p, x):
        y = jnp.tanh(x @ p['w'] + p['b'])
        return jnp.sum(y ** 2), y

    (val, aux), g = jax.value_and_grad(loss, has_aux=True)(params, x)
    assert set(g) == {'w', 'b'}
    eps = 1e-6
    for k in ('w', 'b'):
        p = np.asarray(params[k])
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            dp = np.zeros_like(p)
            dp[idx] = eps
            hi = dict(params, **{k: jnp.asarray(p + dp)})
            lo = dict(params, **{k: jnp.asarray(p - dp)})
            num[idx] = (float(loss(hi, x)[0]) - float(loss(lo, x)[0])) / (2 * eps)
        np.testing.assert_allclose(g[k], num, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(aux, np.tanh(np.asarray(x) @ np.asarray(params['w']) + np.asarray(params['b'])))


def test_cross_entropy_through_log_softmax():
    def log_softmax(z):
        z = z - lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
        return z - jnp.log(jnp.sum(jnp.exp(z), axis=-1, keepdims=True))
    logits = _r(4, 5, seed=9)
    labels = np.array([0, 3, 1, 4])
    onehot = (np.arange(5) == labels[:, None]).astype(np.float64)
    f = lambda z: -jnp.mean(jnp.sum(log_softmax(z) * onehot, axis=-1))
    check_grads(f, (logits,), order=2)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(jax.grad(f)(logits), (p - onehot) / 4, rtol=1e-10)


def test_custom_jvp_and_vjp():
    @jax.custom_jvp
    def f(x):
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), 10.0 * tangents[0]
    assert float(jax.grad(f)(1.0)) == 10.0
    assert float(jax.jvp(f, (1.0,), (1.0,))[1]) == 10.0

    @jax.custom_vjp
    def g(x, y):
        return x * y

    g.defvjp(lambda x, y: (x * y, (x, y)), lambda res, ct: (ct * res[1] * 100, ct * res[0]))
    gx, gy = jax.grad(g, argnums=(0, 1))(2.0, 3.0)
    assert (float(gx), float(gy)) == (300.0, 2.0)
    with pytest.raises(TypeError, match='forward-mode'):
        jax.jvp(lambda x: g(x, 2.0), (1.0,), (1.0,))

    @jax.custom_vjp
    def h(x):
        return 2 * x
    h.defvjp(lambda x: (2 * x, None), lambda res, ct: (ct, ct))
    with pytest.raises(TypeError, match='bwd rule'):
        jax.grad(h)(1.0)


def test_checkpoint_matches_and_recomputes():
    f = lambda x: jnp.sum(jnp.sin(jnp.cos(x)) ** 2)
    x = _r(5, seed=10)
    np.testing.assert_allclose(jax.grad(jax.checkpoint(f))(x), jax.grad(f)(x), rtol=1e-12)
    jaxpr = str(jax.make_jaxpr(jax.grad(jax.checkpoint(f)))(x))
    assert 'checkpoint' in jaxpr
    check_grads(jax.checkpoint(f), (x,), order=2)


def test_make_jaxpr_shows_backward_graph():
    text = str(jax.make_jaxpr(jax.grad(lambda x: jnp.sum(jnp.sin(x))))(jnp.ones(3)))
    assert 'cos' in text and 'sin' in text


def test_errors():
    with pytest.raises(TypeError, match='scalar-output'):
        jax.grad(lambda x: x)(jnp.ones(3))
    with pytest.raises(TypeError, match='allow_int'):
        jax.grad(lambda x: x * 2)(1)
    with pytest.raises(TypeError, match='argnums'):
        jax.grad(lambda x: x, argnums=3)(1.0)
    g = jax.grad(lambda x, n: x * n, argnums=0, allow_int=True)(2.0, 3)
    assert float(g) == 3.0
    with pytest.raises(TypeError, match='real-valued outputs'):
        jax.grad(lambda x: (x > 0).astype(jnp.int32).sum(), allow_int=True)(1.0)


def test_vjp_and_linearize():
    f = lambda x, y: (jnp.sin(x) * y, x + y)
    x, y = jnp.asarray([0.1, 0.2]), jnp.asarray([1.0, 2.0])
    out, f_vjp = jax.vjp(f, x, y)
    gx, gy = f_vjp((jnp.ones(2), jnp.ones(2)))
    np.testing.assert_allclose(gx, np.cos([0.1, 0.2]) * [1, 2] + 1)
    np.testing.assert_allclose(gy, np.sin([0.1, 0.2]) + 1)
    out, f_jvp = jax.linearize(lambda x: jnp.sin(x) * 2, x)
    np.testing.assert_allclose(f_jvp(jnp.ones(2)), 2 * np.cos([0.1, 0.2]))


def test_every_differentiable_primitive_has_rules():
    nondiff = {'sign', 'floor', 'ceil', 'round', 'is_finite', 'not', 'and', 'or', 'xor',
               'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'shift_left', 'shift_right_arithmetic',
               'shift_right_logical', 'nextafter', 'iota', 'argmax', 'argmin', 'reduce_and',
               'reduce_or', 'custom_lin', 'random_bits', 'threefry2x32'}
    linear = {'neg', 'add', 'sub', 'mul', 'div', 'convert_element_type', 'select_n',
              'reduce_sum', 'broadcast_in_dim', 'reshape', 'transpose', 'squeeze', 'rev',
              'slice', 'pad', 'concatenate', 'dot_general', 'copy', 'cumsum',
              'dynamic_slice', 'dynamic_update_slice', 'gather', 'scatter_add', 'scatter-add'}
    for name, p in registry.items():
        if name not in nondiff:
            assert p.jvp is not None, f'{name} lacks a JVP rule'
        if name in linear:
            assert p.transpose is not None, f'{name} lacks a transpose rule'
        assert p.batch is not None or name in ('iota', 'custom_lin'), f'{name} lacks a batching rule'


def test_custom_jvp_rule_runs_batched_under_vmap_then_differentiated():
    # The score-matching tutorial's loss: vmap(jacfwd(net)) with softplus (a custom_jvp)
    # inside, then grad. The rule, written for one example, must run batched. Recorded
    # from JAX 0.10.2 (x64).
    def f(x):
        return jax.nn.softplus(x * jnp.arange(1., 4.)) + jnp.logaddexp(x, 0.5)
    with jax.enable_x64():
        x = jnp.linspace(-1, 1, 6).reshape(2, 3)
        jac = jax.vmap(jax.jacfwd(f))(x)
        np.testing.assert_allclose(np.asarray(jac), [
            [[0.45136694517635145, 0, 0], [0, 0.712690327406847, 0], [0, 0, 1.3948433091544474]],
            [[0.975391480500819, 0, 0], [0, 2.0620287544769753, 0], [0, 0, 3.4801817116691542]]],
            rtol=1e-12)
        g = jax.grad(lambda x: jax.vmap(jax.jacfwd(f))(x).sum())(x)
        np.testing.assert_allclose(np.asarray(g), [
            [0.3457583853118147, 0.8989476421347433, 2.2807710374030243],
            [0.4919748844026058, 0.9609538027801148, 0.6415936497798034]], rtol=1e-12)
        jr = jax.vmap(jax.jacrev(f))(x)
        np.testing.assert_allclose(np.asarray(jr), np.asarray(jac), rtol=1e-12)


def test_tangent_of_a_scalar_operand_broadcasts_to_the_output():
    # lax's add/sub/mul take a 0-d operand beside an array; when only the 0-d one has a
    # tangent, the output's tangent must still have the output's shape (here, the
    # broadcast after it failed). Recorded from JAX 0.10.2.
    def f(s):
        t = jnp.zeros((5, 1)) + s - jnp.ones((5, 7))
        return jax.scipy.special.logsumexp(t, axis=0).sum()
    np.testing.assert_allclose(float(jax.grad(f)(jnp.float32(2.0))), 7.0000005, rtol=1e-6)
    g = jax.grad(lambda s: (lax.mul(jnp.ones((2, 3)), s) ** 2).sum())(jnp.asarray(1.5))
    np.testing.assert_allclose(float(g), 18.0, rtol=1e-6)
    g = jax.grad(lambda s: (jnp.exp(lax.add(jnp.ones((2, 3)), s)) * jnp.arange(3.)).sum())
    np.testing.assert_allclose(float(g(jnp.asarray(0.3))), 6 * np.exp(1.3), rtol=1e-6)
