"""tinyjax.optimizers against parameter trajectories recorded from optax 0.2.8."""
import json
import pathlib

import numpy as np
import pytest

import tinyjax as jax
import tinyjax.numpy as jnp
from tinyjax import optimizers as optim

REF = json.loads((pathlib.Path(__file__).parent / 'data' / 'optax_reference.json').read_text())

CASES = {
    'sgd': lambda: optim.sgd(0.1),
    'sgd_momentum': lambda: optim.sgd(0.1, momentum=0.9),
    'sgd_nesterov': lambda: optim.sgd(0.1, momentum=0.9, nesterov=True),
    'adam': lambda: optim.adam(0.01),
    'adamw': lambda: optim.adamw(0.01, weight_decay=0.1),
    'rmsprop': lambda: optim.rmsprop(0.01),
    'rmsprop_centered_momentum': lambda: optim.rmsprop(0.01, centered=True, momentum=0.5),
    'clip_chain': lambda: optim.chain(optim.clip_by_global_norm(0.5), optim.sgd(0.1)),
    'adam_schedule': lambda: optim.adam(optim.exponential_decay(0.01, 2, 0.5)),
    'sgd_warmup_cosine': lambda: optim.sgd(optim.warmup_cosine_decay(0.0, 0.1, 2, 6, 0.01)),
}


def _grads(step):
    return {'w': jnp.asarray([[0.1, -0.2], [0.3, 0.05]]) * (step + 1),
            'b': jnp.asarray([-0.4, 0.25]) / (step + 1)}


@pytest.mark.parametrize('name', sorted(CASES))
def test_trajectory_matches_optax(name):
    opt = CASES[name]()
    params = {'w': jnp.asarray([[0.5, -1.0], [2.0, 0.1]]), 'b': jnp.asarray([0.3, -0.2])}
    state = opt.init(params)
    for step in range(4):
        updates, state = opt.update(_grads(step), state, params)
        params = optim.apply_updates(params, updates)
    for k in ('w', 'b'):
        np.testing.assert_allclose(params[k], REF[name][k], rtol=1e-5, atol=1e-6)
        assert params[k].dtype == jnp.float32


def test_schedules_match_optax():
    exp = optim.exponential_decay(1.0, 3, 0.5, transition_begin=1, staircase=True)
    np.testing.assert_allclose([float(exp(i)) for i in range(8)], REF['schedules']['exp'], rtol=1e-6)
    wcd = optim.warmup_cosine_decay(0.0, 1.0, 3, 10, 0.1)
    np.testing.assert_allclose([float(wcd(i)) for i in range(12)], REF['schedules']['wcd'], rtol=1e-5, atol=1e-7)
    assert float(optim.constant(0.3)(5)) == pytest.approx(0.3)


def test_optimizer_state_is_a_pytree_and_differentiable_step():
    opt = optim.adam(0.1)
    params = {'w': jnp.ones(3)}
    state = opt.init(params)
    leaves = jax.tree_util.tree_leaves(state)
    assert len(leaves) == 3     # count, mu, nu

    def step(params, state):
        loss, g = jax.value_and_grad(lambda p: jnp.sum((p['w'] - 2.0) ** 2))(params)
        updates, state = opt.update(g, state, params)
        return optim.apply_updates(params, updates), state, loss
    losses = []
    for _ in range(50):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    assert losses[-1] < 1e-2 * losses[0]


def test_errors():
    with pytest.raises(ValueError, match='params'):
        optim.adamw(0.1).update({'w': jnp.ones(2)}, optim.adamw(0.1).init({'w': jnp.ones(2)}))
