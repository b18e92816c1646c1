"""optax, unchanged, on tinyjax through `tinyjax.install_as_jax()`: each optimizer's
trajectory (loss per step, final parameters) against optax 0.2.8 on JAX 0.10.2 (CPU),
recorded in tests/data/optax_on_jax.json. optax is installed with
`pip install --no-deps 'optax>=0.2.7' absl-py` (see README)."""
import importlib.util
import json
import os

import numpy as np
import pytest


pytestmark = pytest.mark.skipif(importlib.util.find_spec('optax') is None,
                                reason="optax is not installed (pip install --no-deps 'optax>=0.2.7' absl-py)")

with open(os.path.join(os.path.dirname(__file__), 'data', 'optax_on_jax.json')) as f:
    RECORDED = json.load(f)


@pytest.fixture(scope='module')
def jax_and_optax(as_jax):
    """`jax` (tinyjax, see conftest's as_jax) and optax imported on it."""
    import jax
    if importlib.util.find_spec('optax') is None:
        pytest.skip('optax is not installed (.ci/run installs it: pip install --no-deps optax)')
    import optax        # any module optax needs that tinyjax lacks fails the test
    return jax, optax


def _problem(jnp):
    x = jnp.asarray(np.sin(np.arange(24.0)).reshape(8, 3), jnp.float32)
    y = jnp.asarray(np.cos(np.arange(8.0)) * 0.5, jnp.float32)
    params = {'w1': jnp.asarray(np.linspace(-0.5, 0.5, 12).reshape(3, 4), jnp.float32),
              'b1': jnp.zeros(4, jnp.float32),
              'w2': jnp.asarray(np.linspace(0.3, -0.3, 4), jnp.float32)}
    return x, y, params


def _optimizer(optax, name):
    return {
        'sgd': lambda: optax.sgd(0.1),
        'sgd_nesterov': lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
        'adam': lambda: optax.adam(0.05),
        'adamw': lambda: optax.adamw(0.05, weight_decay=0.1),
        'clip_adam': lambda: optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.05)),
        'clip_sgd': lambda: optax.chain(optax.clip_by_global_norm(0.05), optax.sgd(1.0)),
        'sgd_exp_decay': lambda: optax.sgd(
            optax.exponential_decay(0.2, transition_steps=2, decay_rate=0.5)),
        'adam_warmup_cosine': lambda: optax.adam(
            optax.warmup_cosine_decay_schedule(0.0, 0.1, 3, 10, 0.01)),
    }[name]()


def _train(jax, optax, name, use_jit, steps=10):
    jnp = jax.numpy
    x, y, params = _problem(jnp)

    def loss(p):
        h = jnp.tanh(x @ p['w1'] + p['b1'])
        return jnp.mean((h @ p['w2'] - y) ** 2)

    opt = _optimizer(optax, name)
    state = opt.init(params)

    def step(p, s):
        value, g = jax.value_and_grad(loss)(p)
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, value

    if use_jit:
        step = jax.jit(step)
    losses = []
    for _ in range(steps):
        params, state, value = step(params, state)
        losses.append(float(value))
    return losses, params


@pytest.mark.parametrize('name', [k for k in RECORDED if isinstance(RECORDED[k], dict) and 'params' in RECORDED[k]])
def test_optax_trajectory_matches_jax(jax_and_optax, name):
    jax, optax = jax_and_optax
    losses, params = _train(jax, optax, name, use_jit=True)
    want = RECORDED[name]
    np.testing.assert_allclose(losses, want['losses'], rtol=2e-6, atol=1e-7)
    for k, v in want['params'].items():
        np.testing.assert_allclose(np.asarray(params[k]), v, rtol=2e-6, atol=2e-7)


@pytest.mark.parametrize('name', ['adam', 'clip_sgd'])
def test_optax_without_jit_matches_jax(jax_and_optax, name):
    jax, optax = jax_and_optax
    losses, params = _train(jax, optax, name, use_jit=False, steps=4)
    np.testing.assert_allclose(losses, RECORDED[name]['losses'][:4], rtol=2e-6, atol=1e-7)


def test_optax_schedule_values(jax_and_optax):
    _, optax = jax_and_optax
    sched = optax.warmup_cosine_decay_schedule(0.0, 0.1, 3, 10, 0.01)
    np.testing.assert_allclose([float(sched(i)) for i in range(12)], RECORDED['schedule_values'],
                               rtol=1e-6, atol=1e-9)


def _more_optimizers(optax):
    return {
        'rmsprop': lambda: optax.rmsprop(0.01), 'adagrad': lambda: optax.adagrad(0.1),
        'lion': lambda: optax.lion(0.01), 'lamb': lambda: optax.lamb(0.01),
        'adafactor': lambda: optax.adafactor(0.01), 'nadam': lambda: optax.nadam(0.01),
        'radam': lambda: optax.radam(0.01), 'adabelief': lambda: optax.adabelief(0.01),
        'novograd': lambda: optax.novograd(0.01), 'yogi': lambda: optax.yogi(0.01),
        'sm3': lambda: optax.sm3(0.1), 'fromage': lambda: optax.fromage(0.01),
        'lars': lambda: optax.lars(0.01),
        'sgdr': lambda: optax.sgd(optax.sgdr_schedule([dict(
            init_value=0.1, peak_value=0.2, warmup_steps=2, decay_steps=4, end_value=0.01)])),
        'inject': lambda: optax.inject_hyperparams(optax.adam)(learning_rate=0.02),
        'masked': lambda: optax.masked(optax.adam(0.02), {'w': True, 'b': False}),
        'multisteps': lambda: optax.MultiSteps(optax.adam(0.05), every_k_schedule=2),
        'multi_transform': lambda: optax.multi_transform(
            {'a': optax.sgd(0.1), 'b': optax.adam(0.01)}, {'w': 'a', 'b': 'b'}),
        'clip_ema': lambda: optax.chain(optax.clip(0.05), optax.ema(0.9), optax.scale(-0.1)),
        'zero_nans': lambda: optax.chain(optax.zero_nans(), optax.adamw(0.01)),
        'contrib_schedule_free': lambda: optax.contrib.schedule_free_adamw(0.01),
        'piecewise': lambda: optax.sgd(optax.piecewise_constant_schedule(0.1, {2: 0.5, 4: 0.1})),
        'join': lambda: optax.sgd(optax.join_schedules(
            [optax.linear_schedule(0., 0.1, 3), optax.cosine_decay_schedule(0.1, 5)], [3])),
    }


def _softmax_problem(jax, optax):
    jnp = jax.numpy
    x = jnp.asarray(np.sin(np.arange(24.0)).reshape(8, 3), jnp.float32)
    labels = jnp.asarray(np.arange(8) % 3)
    params = {'w': jnp.asarray(np.linspace(-0.5, 0.5, 9).reshape(3, 3), jnp.float32),
              'b': jnp.zeros(3, jnp.float32)}

    def loss(p):
        logits = x @ p['w'] + p['b']
        return (optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
                + 0.01 * optax.l2_loss(p['w']).sum())
    return params, loss


@pytest.mark.parametrize('name', [k for k in RECORDED['more'] if k not in ('lbfgs', 'losses')])
def test_more_optax_optimizers_match_jax(jax_and_optax, name):
    jax, optax = jax_and_optax
    params, loss = _softmax_problem(jax, optax)
    opt = _more_optimizers(optax)[name]()
    state = opt.init(params)

    @jax.jit
    def step(p, s):
        value, g = jax.value_and_grad(loss)(p)
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, value

    losses = []
    for _ in range(6):
        params, state, value = step(params, state)
        losses.append(float(value))
    np.testing.assert_allclose(losses, RECORDED['more'][name], rtol=3e-6)


def test_optax_lbfgs_and_losses_match_jax(jax_and_optax):
    jax, optax = jax_and_optax
    jnp = jax.numpy
    params, loss = _softmax_problem(jax, optax)
    opt = optax.lbfgs()
    state = opt.init(params)
    value_and_grad = optax.value_and_grad_from_state(loss)

    @jax.jit
    def step(p, s):
        value, g = value_and_grad(p, state=s)
        updates, s = opt.update(g, s, p, value=value, grad=g, value_fn=loss)
        return optax.apply_updates(p, updates), s, value

    values = []
    for _ in range(5):
        params, state, value = step(params, state)
        values.append(float(value))
    np.testing.assert_allclose(values, RECORDED['more']['lbfgs'], rtol=3e-6)
    p0, _ = _softmax_problem(jax, optax)
    got = [optax.sigmoid_binary_cross_entropy(jnp.array([0.3, -1.]), jnp.array([1., 0.])).sum(),
           optax.huber_loss(jnp.array([0.3, 2.])).sum(),
           optax.cosine_similarity(jnp.ones(3), jnp.arange(3.)),
           optax.tree.norm(p0), optax.safe_norm(jnp.ones(3), 1e-6)]
    np.testing.assert_allclose([float(v) for v in got], RECORDED['more']['losses'], rtol=1e-6)
