"""tinyjax.example_libraries (stax, optimizers) run the program of tests/data/jax_stax.py
and match what JAX 0.10.2 gave for it (tests/data/jax_stax.json): parameter values from
the same keys, layer outputs, optimizer trajectories and schedules."""
import importlib.util
import json
import os
import pickle

import numpy as np
import pytest

import tinyjax
import tinyjax.numpy as jnp
from tinyjax import lax, random
from tinyjax.example_libraries import optimizers, stax

_DATA = os.path.join(os.path.dirname(__file__), 'data')
_spec = importlib.util.spec_from_file_location('jax_stax', os.path.join(_DATA, 'jax_stax.py'))
jax_stax = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jax_stax)
with open(os.path.join(_DATA, 'jax_stax.json')) as f:
    REC = json.load(f)


@pytest.fixture(scope='module')
def ours():
    return jax_stax.run(tinyjax)


def _close(got, want, rtol=2e-5, atol=2e-6):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


@pytest.mark.parametrize('name', sorted(REC['layers']))
def test_layers_match_jax(ours, name):
    got, want = ours['layers'][name], REC['layers'][name]
    if 'shape' in want:
        assert got['shape'] == want['shape']
        _close(got['params'], want['params'])
    _close(got['out'], want['out'], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', sorted(REC['optimizers']))
def test_optimizers_match_jax(ours, name):
    _close(ours['optimizers'][name], REC['optimizers'][name], rtol=1e-4, atol=1e-5)


def test_schedules_and_clipping_match_jax(ours):
    for name, want in REC['schedules'].items():
        np.testing.assert_allclose(ours['schedules'][name], want, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours['l2_norm'], REC['l2_norm'], rtol=1e-5)
    _close(ours['clip_grads'], REC['clip_grads'])


def test_optimizer_state_is_a_pytree_and_packs():
    init, update, get_params = optimizers.adam(0.1)
    params = {'a': jnp.ones((2,)), 'b': [jnp.zeros(3), jnp.full((), 2.0)]}
    state = init(params)
    # Nine leaves: (x, m, v) for each of three parameters; the tree structure is static.
    assert len(tinyjax.tree_util.tree_leaves(state)) == 9
    doubled = tinyjax.tree_util.tree_map(lambda x: 2 * x, state)
    np.testing.assert_allclose(np.asarray(get_params(doubled)['a']), [2.0, 2.0])
    unpacked = optimizers.unpack_optimizer_state(state)
    assert isinstance(unpacked['a'], optimizers.JoinPoint)
    repacked = optimizers.pack_optimizer_state(pickle.loads(pickle.dumps(unpacked)))
    assert repacked.tree_def == state.tree_def
    np.testing.assert_allclose(np.asarray(get_params(repacked)['b'][1]), 2.0)
    with pytest.raises(TypeError, match='did not match the parameter tree'):
        update(0, {'a': jnp.ones((2,))}, state)
    with pytest.raises(TypeError, match='JoinPoint'):
        optimizers.pack_optimizer_state({'a': 1.0})


def test_bad_arguments():
    with pytest.raises(ValueError, match='PRNG key'):
        stax.Dropout(0.5)[1]((), jnp.ones(3))
    with pytest.raises(ValueError, match='one shorter'):
        optimizers.piecewise_constant([1, 2], [0.1])
    with pytest.raises(TypeError):
        optimizers.make_schedule(jnp.ones(3))


def test_dropout_eval_mode_is_identity():
    x = jnp.arange(4.0)
    y = stax.Dropout(0.3, mode='test')[1]((), x, rng=random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


def test_lax_shape_tuples():
    # Recorded from JAX 0.10.2.
    assert lax.conv_general_shape_tuple((2, 5, 4, 2), (3, 2, 2, 3), (2, 1), 'SAME',
                                        ('NHWC', 'HWIO', 'NHWC')) == (2, 3, 4, 3)
    assert lax.conv_general_shape_tuple((1, 2, 7, 5), (4, 2, 3, 2), (2, 2), [(1, 0), (0, 2)],
                                        ('NCHW', 'OIHW', 'NCHW')) == (1, 4, 3, 3)
    assert lax.conv_transpose_shape_tuple((1, 3, 3, 2), (3, 3, 2, 2), (2, 2), 'SAME',
                                          ('NHWC', 'HWIO', 'NHWC')) == (1, 6, 6, 2)
    assert lax.conv_transpose_shape_tuple((2, 4, 3), (3, 3, 2), (2,), 'VALID',
                                          ('NHC', 'HIO', 'NHC')) == (2, 9, 2)
    assert lax.reduce_window_shape_tuple((1, 4, 5, 2), (1, 3, 3, 1), (1, 2, 2, 1),
                                         [(0, 0), (1, 1), (1, 1), (0, 0)]) == (1, 2, 3, 2)
    assert lax.reduce_window_shape_tuple((6, 7), (2, 3), (1, 2), [(0, 0), (0, 0)],
                                         (2, 1), (1, 2)) == (10, 2)
    with pytest.raises(TypeError, match='one entry per operand dimension'):
        lax.reduce_window_shape_tuple((4, 4), (2,), (1,), [(0, 0)])


def test_stax_trains_under_jit_and_grad():
    init, apply = stax.serial(stax.Conv(4, (3, 3), padding='SAME'), stax.BatchNorm(), stax.Relu,
                              stax.MaxPool((2, 2), strides=(2, 2)), stax.Flatten,
                              stax.Dense(3), stax.LogSoftmax)
    out_shape, params = init(random.PRNGKey(0), (4, 6, 6, 2))
    assert out_shape == (4, 3)
    x = jnp.asarray(jax_stax._inp((4, 6, 6, 2)))
    labels = jnp.eye(3)[jnp.array([0, 1, 2, 0])]

    def loss(p):
        return -jnp.mean(jnp.sum(apply(p, x) * labels, axis=1))
    opt_init, opt_update, get_params = optimizers.adam(0.05)

    @tinyjax.jit
    def step(i, s):
        return opt_update(i, tinyjax.grad(loss)(get_params(s)), s)
    s = opt_init(params)
    before = float(loss(params))
    for i in range(15):
        s = step(i, s)
    assert float(loss(get_params(s))) < 0.5 * before
