"""Gradient transformations in the style of optax: each is a pair of pure functions

    init(params) -> state
    update(grads, state, params=None) -> (updates, new_state)

over pytrees, so a whole train step (loss, grad, update) can sit inside one `jit`.
`apply_updates(params, updates)` adds the updates; learning rates may be numbers or
schedules (functions of the step count).
"""
from typing import Any, Callable, NamedTuple

import numpy as np

from tinyjax import lax, tree_util
from tinyjax import numpy as jnp


class GradientTransformation(NamedTuple):
    init: Callable
    update: Callable


class EmptyState(NamedTuple):
    pass


class ScaleByScheduleState(NamedTuple):
    count: Any


class TraceState(NamedTuple):
    trace: Any


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRStdDevState(NamedTuple):
    mu: Any
    nu: Any


def _tmap(f, *trees):
    return tree_util.tree_map(f, *trees)


def _zeros_like(tree):
    return _tmap(jnp.zeros_like, tree)


# --- schedules ------------------------------------------------------------------------
def constant_schedule(value):
    return lambda count: jnp.asarray(value, jnp.float32)


constant = constant_schedule


def exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0,
                      staircase=False, end_value=None):
    if transition_steps <= 0:
        raise ValueError(f'exponential_decay: transition_steps must be > 0, got {transition_steps}')

    def schedule(count):
        steps = jnp.maximum(jnp.asarray(count, jnp.float32) - transition_begin, 0.0)
        p = steps / transition_steps
        if staircase:
            p = jnp.floor(p)
        value = init_value * jnp.power(jnp.asarray(decay_rate, jnp.float32), p)
        if end_value is not None:
            bound = jnp.maximum if decay_rate < 1 else jnp.minimum
            value = bound(value, end_value)
        return value
    return schedule


def cosine_decay_schedule(init_value, decay_steps, alpha=0.0, exponent=1.0):
    if decay_steps <= 0:
        raise ValueError(f'cosine_decay_schedule: decay_steps must be > 0, got {decay_steps}')

    def schedule(count):
        t = jnp.minimum(jnp.asarray(count, jnp.float32), decay_steps) / decay_steps
        cosine = 0.5 * (1 + jnp.cos(np.pi * t))
        return init_value * ((1 - alpha) * jnp.power(cosine, exponent) + alpha)
    return schedule


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps,
                                 end_value=0.0, exponent=1.0):
    """Linear warm-up from init_value to peak_value, then cosine decay to end_value;
    decay_steps counts the whole schedule, warm-up included (as in optax)."""
    alpha = 0.0 if peak_value == 0 else end_value / peak_value
    cosine = cosine_decay_schedule(peak_value, max(decay_steps - warmup_steps, 1), alpha, exponent)

    def schedule(count):
        c = jnp.asarray(count, jnp.float32)
        warm = init_value + (peak_value - init_value) * c / max(warmup_steps, 1)
        return jnp.where(c < warmup_steps, warm, cosine(c - warmup_steps))
    return schedule


warmup_cosine_decay = warmup_cosine_decay_schedule


# --- building blocks ------------------------------------------------------------------
def scale(step_size):
    def update(updates, state, params=None):
        return _tmap(lambda g: g * step_size, updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


def scale_by_schedule(step_size_fn):
    def init(params):
        return ScaleByScheduleState(count=jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        s = step_size_fn(state.count)
        return (_tmap(lambda g: g * s.astype(g.dtype), updates),
                ScaleByScheduleState(count=state.count + 1))
    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate, flip_sign=True):
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def trace(decay, nesterov=False):
    """Momentum: t = g + decay * t; the update is t (or g + decay * t with Nesterov)."""
    def init(params):
        return TraceState(trace=_zeros_like(params))

    def update(updates, state, params=None):
        new = _tmap(lambda g, t: g + decay * t, updates, state.trace)
        out = _tmap(lambda g, t: g + decay * t, updates, new) if nesterov else new
        return out, TraceState(trace=new)
    return GradientTransformation(init, update)


def _bias_correction(moment, decay, count):
    correction = 1 - jnp.power(jnp.asarray(decay, jnp.float32), count.astype(jnp.float32))
    return _tmap(lambda m: m / correction.astype(m.dtype), moment)


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    def init(params):
        return ScaleByAdamState(count=jnp.zeros((), jnp.int32), mu=_zeros_like(params),
                                nu=_zeros_like(params))

    def update(updates, state, params=None):
        mu = _tmap(lambda g, m: (1 - b1) * g + b1 * m, updates, state.mu)
        nu = _tmap(lambda g, v: (1 - b2) * g * g + b2 * v, updates, state.nu)
        count = state.count + 1
        mu_hat = _bias_correction(mu, b1, count)
        nu_hat = _bias_correction(nu, b2, count)
        out = _tmap(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return out, ScaleByAdamState(count=count, mu=mu, nu=nu)
    return GradientTransformation(init, update)


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0):
    def init(params):
        return ScaleByRmsState(nu=_tmap(lambda p: jnp.full_like(p, initial_scale), params))

    def update(updates, state, params=None):
        nu = _tmap(lambda g, v: (1 - decay) * g * g + decay * v, updates, state.nu)
        return _tmap(lambda g, v: g * lax.rsqrt(v + eps), updates, nu), ScaleByRmsState(nu=nu)
    return GradientTransformation(init, update)


def scale_by_stddev(decay=0.9, eps=1e-8, initial_scale=0.0):
    def init(params):
        return ScaleByRStdDevState(mu=_zeros_like(params),
                                   nu=_tmap(lambda p: jnp.full_like(p, initial_scale), params))

    def update(updates, state, params=None):
        mu = _tmap(lambda g, m: (1 - decay) * g + decay * m, updates, state.mu)
        nu = _tmap(lambda g, v: (1 - decay) * g * g + decay * v, updates, state.nu)
        out = _tmap(lambda g, m, v: g * lax.rsqrt(v - m * m + eps), updates, mu, nu)
        return out, ScaleByRStdDevState(mu=mu, nu=nu)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay=0.0, mask=None):
    def update(updates, state, params=None):
        if params is None:
            raise ValueError('add_decayed_weights needs params: call update(grads, state, params)')
        m = mask(params) if callable(mask) else mask
        if m is None:
            return _tmap(lambda g, p: g + weight_decay * p, updates, params), state
        return _tmap(lambda g, p, k: g + weight_decay * p if k else g, updates, params, m), state
    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_global_norm(max_norm):
    def update(updates, state, params=None):
        norm = global_norm(updates)
        keep = norm < max_norm
        # Divide by the larger of the two so the untaken branch never divides by zero.
        denom = jnp.maximum(norm, max_norm)
        return _tmap(lambda g: jnp.where(keep, g, g * (max_norm / denom).astype(g.dtype)),
                     updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


def clip(max_delta):
    def update(updates, state, params=None):
        return _tmap(lambda g: jnp.clip(g, -max_delta, max_delta), updates), state
    return GradientTransformation(lambda params: EmptyState(), update)


def global_norm(tree):
    leaves = tree_util.tree_leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves))


def chain(*transforms):
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f'chain: the state has {len(state)} parts for {len(transforms)} '
                             'transformations; was it made by this chain\'s init?')
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)
    return GradientTransformation(init, update)


# --- optimizers -----------------------------------------------------------------------
def sgd(learning_rate, momentum=None, nesterov=False):
    parts = [trace(momentum, nesterov)] if momentum else []
    return chain(*parts, scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0):
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, weight_decay=1e-4, mask=None):
    return chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, centered=False,
            momentum=None, nesterov=False):
    rms = scale_by_stddev(decay, eps, initial_scale) if centered else \
        scale_by_rms(decay, eps, initial_scale)
    parts = [rms, scale_by_learning_rate(learning_rate)]
    if momentum is not None:
        parts.append(trace(momentum, nesterov))
    return chain(*parts)


def apply_updates(params, updates):
    return _tmap(lambda p, u: (p + u).astype(p.dtype) if hasattr(p, 'dtype') else p + u,
                 params, updates)
