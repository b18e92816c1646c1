"""JAX's example optimizers: each is a triple (init_fun, update_fun, get_params).

    opt_state = init_fun(params)
    opt_state = update_fun(step, grads, opt_state)
    params = get_params(opt_state)

An optimizer is written once for a single array (`@optimizer` on a function returning
per-array init/update/get_params) and lifted to pytrees of parameters: the state is an
`OptimizerState` pytree holding each parameter's flattened per-array state, so it passes
through jit, grad and vmap. Step sizes are numbers or schedules (functions of the step).
"""
import collections
import functools
from typing import Any, Callable, NamedTuple

from tinyjax import numpy as jnp
from tinyjax import tree_util

OptimizerState = collections.namedtuple('OptimizerState',
                                        ['packed_state', 'tree_def', 'subtree_defs'])
# Only the per-parameter state arrays are children; the tree structures are static.
tree_util.register_pytree_node(
    OptimizerState,
    lambda s: ((s.packed_state,), (s.tree_def, s.subtree_defs)),
    lambda aux, children: OptimizerState(children[0], aux[0], aux[1]))

Schedule = Callable[[int], Any]


class Optimizer(NamedTuple):
    init_fn: Callable
    update_fn: Callable
    params_fn: Callable


def optimizer(opt_maker):
    """Lift a maker of single-array (init, update, get_params) functions to pytrees."""
    @functools.wraps(opt_maker)
    def make(*args, **kwargs):
        init_one, update_one, params_one = opt_maker(*args, **kwargs)

        def init_fn(params):
            leaves, tree = tree_util.tree_flatten(params)
            flat = [tree_util.tree_flatten(init_one(x)) for x in leaves]
            return OptimizerState([f[0] for f in flat], tree, [f[1] for f in flat])

        def update_fn(i, grads, opt_state):
            states_flat, tree, subtrees = opt_state
            grad_leaves, grad_tree = tree_util.tree_flatten(grads)
            if grad_tree != tree:
                raise TypeError(
                    'optimizer update function was passed a gradient tree that did not '
                    f'match the parameter tree structure with which it was initialized: '
                    f'parameter tree {tree} and grad tree {grad_tree}.')
            new_flat, new_subtrees = [], []
            for g, leaves, sub in zip(grad_leaves, states_flat, subtrees):
                state = update_one(i, g, tree_util.tree_unflatten(sub, leaves))
                leaves2, sub2 = tree_util.tree_flatten(state)
                if sub2 != sub:
                    raise TypeError(
                        'optimizer update function produced an output structure that did '
                        f'not match its input structure: input {sub} and output {sub2}.')
                new_flat.append(leaves2)
                new_subtrees.append(sub2)
            return OptimizerState(new_flat, tree, subtrees)

        def params_fn(opt_state):
            states_flat, tree, subtrees = opt_state
            return tree_util.tree_unflatten(tree, [
                params_one(tree_util.tree_unflatten(sub, leaves))
                for leaves, sub in zip(states_flat, subtrees)])

        for lifted, one in ((init_fn, init_one), (update_fn, update_one),
                            (params_fn, params_one)):
            functools.update_wrapper(lifted, one)
        return Optimizer(init_fn, update_fn, params_fn)
    return make


def _first(state):
    return state[0]


def _with_zeros(count):
    """init for optimizers whose state is (x, then `count` zero arrays like x)."""
    return lambda x0: (x0,) + tuple(jnp.zeros_like(x0) for _ in range(count))


@optimizer
def sgd(step_size):
    """Stochastic gradient descent: x <- x - step_size(i) * g."""
    step_size = make_schedule(step_size)
    return (lambda x0: x0), (lambda i, g, x: x - step_size(i) * g), (lambda x: x)


@optimizer
def momentum(step_size, mass):
    """Heavy-ball momentum: v <- mass v + g, x <- x - step_size(i) v."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, v = state
        v = mass * v + g
        return x - step_size(i) * v, v
    return _with_zeros(1), update, _first


@optimizer
def nesterov(step_size, mass):
    """Nesterov momentum: the step looks ahead along the new velocity."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, v = state
        v = mass * v + g
        return x - step_size(i) * (mass * v + g), v
    return _with_zeros(1), update, _first


@optimizer
def adagrad(step_size, momentum=0.9):
    """Adagrad (Duchi et al. 2011) with momentum on the scaled gradient."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, g_sq, m = state
        g_sq = g_sq + jnp.square(g)
        inv_root = jnp.where(g_sq > 0, 1. / jnp.sqrt(g_sq), 0.0)
        m = (1. - momentum) * (g * inv_root) + momentum * m
        return x - step_size(i) * m, g_sq, m
    return _with_zeros(2), update, _first


@optimizer
def rmsprop(step_size, gamma=0.9, eps=1e-8):
    """RMSProp: divide by a running root mean square of the gradients."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq = state
        avg_sq = avg_sq * gamma + jnp.square(g) * (1. - gamma)
        return x - step_size(i) * g / jnp.sqrt(avg_sq + eps), avg_sq
    return _with_zeros(1), update, _first


@optimizer
def rmsprop_momentum(step_size, gamma=0.9, eps=1e-8, momentum=0.9):
    """RMSProp whose scaled steps accumulate in a momentum buffer."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, avg_sq, mom = state
        avg_sq = avg_sq * gamma + jnp.square(g) * (1. - gamma)
        mom = momentum * mom + step_size(i) * g / jnp.sqrt(avg_sq + eps)
        return x - mom, avg_sq, mom
    return _with_zeros(2), update, _first


def _bias_correction(b, like, i):
    return 1 - jnp.asarray(b, like.dtype) ** (i + 1)


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba 2015), bias-corrected first and second moments."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * jnp.square(g) + b2 * v
        m_hat = m / _bias_correction(b1, m, i)
        v_hat = v / _bias_correction(b2, m, i)
        return x - step_size(i) * m_hat / (jnp.sqrt(v_hat) + eps), m, v
    return _with_zeros(2), update, _first


@optimizer
def adamax(step_size, b1=0.9, b2=0.999, eps=1e-8):
    """AdaMax: Adam with the second moment replaced by a decayed infinity norm."""
    step_size = make_schedule(step_size)

    def update(i, g, state):
        x, m, u = state
        m = (1 - b1) * g + b1 * m
        u = jnp.maximum(b2 * u, jnp.abs(g))
        return x - (step_size(i) / _bias_correction(b1, m, i)) * m / (u + eps), m, u
    return _with_zeros(2), update, _first


@optimizer
def sm3(step_size, momentum=0.9):
    """SM3 (Anil et al. 2019): one accumulator per index of each axis, not per element;
    an element's accumulator is the minimum over its axes' accumulators."""
    step_size = make_schedule(step_size)

    def along(axis, v, ndim):       # v (n_axis,) viewed to broadcast along `axis`
        shape = [1] * ndim
        shape[axis] = v.shape[0]
        return v.reshape(shape)

    def init(x0):
        shape = x0.shape
        x0 = jnp.atleast_1d(x0)
        return x0, jnp.zeros_like(x0), [jnp.zeros(n, x0.dtype) for n in x0.shape], shape

    def update(i, g, state):
        x, m, vs, shape = state
        accum = functools.reduce(jnp.minimum, [along(a, v, len(vs)) for a, v in enumerate(vs)])
        accum = accum + jnp.square(g)
        inv_root = jnp.where(accum > 0, 1. / jnp.sqrt(accum), 0)
        m = (1. - momentum) * (g * inv_root) + momentum * m
        x = x - step_size(i) * m
        vs = [accum.max(tuple(b for b in range(x.ndim) if b != a)) for a in range(x.ndim)]
        return x, m, vs, shape

    def get_params(state):
        x, _, _, shape = state
        return x.reshape(shape)
    return init, update, get_params


# --- schedules: step index -> step size ------------------------------------------------
def constant(step_size):
    return lambda i: step_size


def exponential_decay(step_size, decay_steps, decay_rate):
    return lambda i: step_size * decay_rate ** (i / decay_steps)


def inverse_time_decay(step_size, decay_steps, decay_rate, staircase=False):
    if staircase:
        return lambda i: step_size / (1 + decay_rate * jnp.floor(i / decay_steps))
    return lambda i: step_size / (1 + decay_rate * i / decay_steps)


def polynomial_decay(step_size, decay_steps, final_step_size, power=1.0):
    def schedule(i):
        frac_left = (1 - jnp.minimum(i, decay_steps) / decay_steps) ** power
        return frac_left * (step_size - final_step_size) + final_step_size
    return schedule


def piecewise_constant(boundaries, values):
    """values[k] for steps in (boundaries[k-1], boundaries[k]]."""
    boundaries, values = jnp.array(boundaries), jnp.array(values)
    if not boundaries.ndim == values.ndim == 1:
        raise ValueError('piecewise_constant: boundaries and values must be sequences, got '
                         f'shapes {boundaries.shape} and {values.shape}')
    if boundaries.shape[0] != values.shape[0] - 1:
        raise ValueError('piecewise_constant: boundaries length must be one shorter than values '
                         f'length, got {boundaries.shape[0]} and {values.shape[0]}')
    return lambda i: values[jnp.sum(i > boundaries)]


def make_schedule(scalar_or_schedule):
    if callable(scalar_or_schedule):
        return scalar_or_schedule
    if jnp.ndim(scalar_or_schedule) == 0:
        return constant(scalar_or_schedule)
    raise TypeError(type(scalar_or_schedule))


# --- utilities ------------------------------------------------------------------------
def l2_norm(tree):
    """The l2 norm of all the leaves of a pytree taken together."""
    return jnp.sqrt(sum(jnp.vdot(x, x) for x in tree_util.tree_leaves(tree)))


def clip_grads(grad_tree, max_norm):
    """Scale a gradient pytree down to global l2 norm max_norm if it is larger."""
    norm = l2_norm(grad_tree)
    return tree_util.tree_map(lambda g: jnp.where(norm < max_norm, g, g * (max_norm / norm)),
                              grad_tree)


class JoinPoint:
    """A leaf of an unpacked optimizer state: one parameter's own state subtree."""

    def __init__(self, subtree):
        self.subtree = subtree

    def __iter__(self):
        yield self.subtree


def unpack_optimizer_state(opt_state):
    """OptimizerState -> the parameter pytree with a JoinPoint of state at each leaf
    (plain Python containers, e.g. for pickling)."""
    states_flat, tree, subtrees = opt_state
    return tree_util.tree_unflatten(tree, [
        JoinPoint(tree_util.tree_unflatten(sub, leaves))
        for leaves, sub in zip(states_flat, subtrees)])


def pack_optimizer_state(marked_pytree):
    """The inverse of unpack_optimizer_state."""
    points, tree = tree_util.tree_flatten(marked_pytree)
    if not all(isinstance(p, JoinPoint) for p in points):
        raise TypeError('pack_optimizer_state: expected a pytree whose leaves are JoinPoints '
                        '(as unpack_optimizer_state returns)')
    flat = [tree_util.tree_flatten(p.subtree) for p in points]
    return OptimizerState([f[0] for f in flat], tree, [f[1] for f in flat])
