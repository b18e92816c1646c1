"""The jaxpr object model custom interpreters use (make_jaxpr's ClosedJaxpr, equations,
Literal, Var, primitive.bind, lax.*_p, jax.extend.core, jax.core.eval_jaxpr), and an
interpreter of our own walking it backwards under jit, grad and vmap. Expected values
were recorded by running the same code on JAX 0.10.2 (CPU)."""
import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import lax
from tinyjax.extend import core


def test_make_jaxpr_fields_of_a_scalar_function():
    closed = jax.make_jaxpr(lambda x: x + 1)(5)
    jaxpr = closed.jaxpr
    assert isinstance(closed, core.ClosedJaxpr) and isinstance(jaxpr, core.Jaxpr)
    assert len(jaxpr.invars) == 1 and len(jaxpr.outvars) == 1 and jaxpr.constvars == []
    (eqn,) = jaxpr.eqns
    assert eqn.primitive is lax.add_p and eqn.params == {}
    assert eqn.invars[0] is jaxpr.invars[0] and eqn.outvars[0] is jaxpr.outvars[0]
    lit = eqn.invars[1]
    assert type(lit) is core.Literal and int(lit.val) == 1
    assert lit.aval.shape == () and lit.aval.dtype == np.int32
    assert jaxpr.invars[0].aval.dtype == np.int32
    assert str(jaxpr) == '{ lambda ; a:i32[]. let\n    b:i32[] = add a 1:i32[]\n  in (b,) }'
    assert closed.effects == frozenset() and eqn.effects == frozenset()


def test_dot_general_params_and_passthrough_output():
    def bar(w, b, x):
        return jnp.dot(w, x) + b, x
    jaxpr = jax.make_jaxpr(bar)(jnp.ones((5, 10)), jnp.ones(5), jnp.ones(10)).jaxpr
    assert [e.primitive for e in jaxpr.eqns] == [lax.dot_general_p, lax.add_p]
    assert jaxpr.eqns[0].params['dimension_numbers'] == (((1,), (0,)), ((), ()))
    assert jaxpr.outvars[1] is jaxpr.invars[2]       # an input returned as is
    assert [a.shape for a in jaxpr.in_avals] == [(5, 10), (5,), (10,)]


def test_closed_over_array_is_a_constvar_with_its_value():
    c = jnp.arange(3.0)
    closed = jax.make_jaxpr(lambda x: x * c + 2.0)(jnp.ones(3))
    assert len(closed.jaxpr.constvars) == 1
    np.testing.assert_array_equal(closed.consts[0], [0., 1., 2.])
    assert closed.literals is closed.consts
    lit = closed.jaxpr.eqns[-1].invars[1]
    assert type(lit) is core.Literal and float(lit.val) == 2.0
    np.testing.assert_array_equal(core.jaxpr_as_fun(closed)(jnp.ones(3))[0], [2., 3., 4.])
    np.testing.assert_array_equal(
        jax.core.eval_jaxpr(closed.jaxpr, closed.consts, jnp.ones(3))[0], [2., 3., 4.])
    # The same graph rebuilt with JAX's constructor order evaluates the same way.
    j = closed.jaxpr
    rebuilt = core.ClosedJaxpr(core.Jaxpr(j.constvars, j.invars, j.outvars, j.eqns), closed.consts)
    np.testing.assert_array_equal(core.jaxpr_as_fun(rebuilt)(jnp.ones(3))[0], [2., 3., 4.])
    with pytest.raises(TypeError, match='constvars'):
        jax.core.eval_jaxpr(closed.jaxpr, [], jnp.ones(3))


def test_primitive_bind_and_lax_primitive_names():
    np.testing.assert_allclose(lax.exp_p.bind(jnp.float32(1.0)), np.float32(2.7182817), rtol=1e-6)
    np.testing.assert_array_equal(lax.mul_p.bind(jnp.array([1., 2.]), jnp.array([3., 4.])), [3., 8.])
    assert lax.scatter_add_p.name == 'scatter-add' and lax.and_p.name == 'and'
    assert lax.while_p.name == 'while' and lax.cond_p.name == 'cond' and lax.scan_p.name == 'scan'
    assert core.primitives.remat_p.name == 'checkpoint'
    assert not lax.exp_p.multiple_results and lax.sort_p.multiple_results
    jaxpr = jax.make_jaxpr(lambda x: jnp.sum(x ** 3))(jnp.ones(3)).jaxpr
    assert [e.primitive for e in jaxpr.eqns] == [lax.integer_pow_p, lax.reduce_sum_p]
    assert jaxpr.eqns[0].params == {'y': 3}


def test_equation_replace_and_new_jaxpr_eqn():
    closed = jax.make_jaxpr(lambda x: jnp.exp(x))(jnp.ones(2))
    (eqn,) = closed.jaxpr.eqns
    swapped = eqn.replace(primitive=lax.log_p)
    j = closed.jaxpr
    log_jaxpr = core.Jaxpr([], j.invars, j.outvars, [swapped])
    np.testing.assert_allclose(core.jaxpr_as_fun(core.ClosedJaxpr(log_jaxpr, []))(jnp.array([1., np.e]))[0],
                               [0., 1.], atol=1e-7)
    made = core.new_jaxpr_eqn(eqn.invars, eqn.outvars, lax.sin_p, {})
    assert made.primitive is lax.sin_p and made.invars == eqn.invars


# An interpreter of our own: run a chain of unary ops backwards; add/sub/mul may have
# one known operand (a literal or a constvar), the page's first exercise.
_UNARY_INVERSE = {lax.exp_p: lax.log_p, lax.tanh_p: lax.atanh_p, lax.log_p: lax.exp_p}


def _invert(closed, y):
    jaxpr = closed.jaxpr
    known = dict(zip(jaxpr.constvars, closed.consts))

    def value(a):
        return a.val if isinstance(a, core.Literal) else known.get(a)

    env = {jaxpr.outvars[0]: y}
    for eqn in reversed(jaxpr.eqns):
        out = env[eqn.outvars[0]]
        if eqn.primitive in _UNARY_INVERSE:
            env[eqn.invars[0]] = _UNARY_INVERSE[eqn.primitive].bind(out)
            continue
        a, b = eqn.invars
        k_first = value(a) is not None
        unknown, k = (b, value(a)) if k_first else (a, value(b))
        if eqn.primitive is lax.add_p:
            env[unknown] = out - k
        elif eqn.primitive is lax.mul_p:
            env[unknown] = out / k
        else:
            assert eqn.primitive is lax.sub_p, eqn.primitive
            env[unknown] = k - out if k_first else out + k
    return env[jaxpr.invars[0]]


def _inverse(f):
    return lambda y: _invert(jax.make_jaxpr(f)(y), y)


_scale = jnp.array([1.0, 2.0, 4.0])


def _f(x):
    return 3.0 - jnp.exp(jnp.tanh(x * _scale) + 0.5) * 2.0


def test_inverse_interpreter_composes_with_jit_grad_vmap():
    x = jnp.array([0.1, -0.2, 0.3])
    y = _f(x)
    inv = _inverse(_f)
    np.testing.assert_allclose(inv(y), [0.1, -0.2, 0.3], rtol=1e-5)
    np.testing.assert_allclose(jax.jit(inv)(y), [0.1, -0.2, 0.3], rtol=1e-5)
    # JAX 0.10.2: grad of sum(inverse(f)(y)) and vmap over two outputs.
    np.testing.assert_allclose(jax.grad(lambda y: jnp.sum(inv(y)))(y),
                               [-0.27725106, -0.25912666, -0.10798984], rtol=1e-5)
    np.testing.assert_allclose(jax.vmap(inv)(jnp.stack([y, y * 0.9])),
                               [[0.1, -0.2, 0.3], [0.08204293, -0.18127126, 0.25586727]],
                               rtol=2e-5)
    # The interpreter traces: its own jaxpr is the inverse chain (JAX's listing).
    assert [e.primitive.name for e in jax.make_jaxpr(inv)(y).eqns] == \
        ['sub', 'div', 'log', 'sub', 'atanh', 'div']


def test_new_primitive_with_def_impl_and_def_abstract_eval():
    p = core.Primitive('scaled_add')

    @p.def_impl
    def _impl(x, y, *, scale):
        return x + scale * y

    @p.def_abstract_eval
    def _abstract(x, y, *, scale):
        return jax.core.ShapedArray(x.shape, x.dtype)

    x, y = jnp.arange(3.0), jnp.ones(3)
    np.testing.assert_array_equal(p.bind(x, y, scale=2.0), [2., 3., 4.])
    text = str(jax.make_jaxpr(lambda a, b: p.bind(a, b, scale=3.0))(x, y))
    assert text == ('{ lambda ; a:f32[3] b:f32[3]. let\n    c:f32[3] = scaled_add[scale=3.0] a b\n'
                    '  in (c,) }')
    # JAX needs a lowering rule for jit; tinyjax runs the impl as a step of the program.
    np.testing.assert_array_equal(jax.jit(lambda a, b: p.bind(a, b, scale=3.0) * 2)(x, y),
                                  [6., 8., 10.])
