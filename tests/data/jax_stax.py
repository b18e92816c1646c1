"""Stax layers and example optimizers run by JAX 0.10.2 (CPU): `run(jax_like)` builds
every case from a module that looks like jax (jax itself here, tinyjax in
tests/test_example_libraries.py), so both sides run the same program.
Regenerate with /path/to/jax-venv/bin/python tests/data/jax_stax.py > tests/data/jax_stax.json"""
import json

import numpy as np


def _inp(shape, phase=0.0):
    return np.sin(np.arange(int(np.prod(shape))).reshape(shape) * 0.37 + phase).astype(np.float32)


def _flat(tree, jax):
    return [np.round(np.asarray(x, np.float64).ravel(), 6).tolist()
            for x in jax.tree_util.tree_leaves(tree)]


def layer_cases(jax):
    from importlib import import_module
    stax = import_module(jax.__name__ + '.example_libraries.stax')
    S = stax
    return {
        'dense': (S.Dense(4), (2, 3)),
        'conv_same': (S.Conv(3, (3, 2), strides=(2, 1), padding='SAME'), (2, 5, 4, 2)),
        'conv_valid': (S.Conv(2, (2, 2)), (1, 4, 4, 3)),
        'general_conv_nchw': (S.GeneralConv(('NCHW', 'OIHW', 'NCHW'), 2, (2, 3), padding='SAME'),
                              (1, 2, 4, 5)),
        'conv_transpose': (S.ConvTranspose(2, (3, 3), strides=(2, 2), padding='SAME'), (1, 3, 3, 2)),
        'conv1d_transpose': (S.Conv1DTranspose(2, (3,), strides=(2,), padding='VALID'), (2, 4, 3)),
        'batchnorm': (S.BatchNorm(), (3, 2, 2, 4)),
        'batchnorm_axis0': (S.BatchNorm(axis=0, center=False), (5, 3)),
        'maxpool': (S.MaxPool((2, 2), strides=(2, 2)), (1, 4, 5, 2)),
        'maxpool_same': (S.MaxPool((3, 3), padding='SAME'), (1, 4, 5, 2)),
        'avgpool_same': (S.AvgPool((2, 3), strides=(2, 2), padding='SAME'), (1, 5, 5, 2)),
        'avgpool_spec': (S.AvgPool((2, 2), spec='NCHW'), (1, 2, 4, 4)),
        'sumpool': (S.SumPool((2, 2)), (2, 3, 3, 1)),
        'flatten_mlp': (S.serial(S.Flatten, S.Dense(5), S.Relu, S.Dense(3), S.LogSoftmax),
                        (2, 3, 4)),
        'activations': (S.serial(S.Tanh, S.Elu, S.Gelu, S.Selu, S.Sigmoid, S.Softplus,
                                 S.LeakyRelu, S.Exp, S.Softmax), (2, 6)),
        'residual': (S.serial(S.FanOut(2), S.parallel(S.Dense(3), S.Identity), S.FanInSum),
                     (2, 3)),
        'concat': (S.serial(S.FanOut(3), S.parallel(S.Dense(2), S.Identity, S.Dense(1)),
                            S.FanInConcat()), (2, 3)),
        'shape_dependent': (S.shape_dependent(lambda shape: S.Dense(shape[-1] * 2)), (2, 3)),
    }


def run(jax):
    from importlib import import_module
    opt = import_module(jax.__name__ + '.example_libraries.optimizers')
    stax = import_module(jax.__name__ + '.example_libraries.stax')
    jnp = jax.numpy
    out = {'layers': {}, 'optimizers': {}, 'schedules': {}}
    for name, ((init, apply), shape) in layer_cases(jax).items():
        out_shape, params = init(jax.random.PRNGKey(0), shape)
        x = jnp.asarray(_inp(shape))
        y = apply(params, x)
        out['layers'][name] = dict(shape=[int(s) for s in out_shape], params=_flat(params, jax),
                                   out=_flat(y, jax))
    init, apply = stax.serial(stax.Dense(4), stax.Dropout(0.7), stax.Dense(2))
    _, params = init(jax.random.PRNGKey(1), (3, 5))
    y = apply(params, jnp.asarray(_inp((3, 5))), rng=jax.random.PRNGKey(2))
    out['layers']['dropout'] = dict(out=_flat(y, jax))

    params0 = {'w': jnp.asarray(_inp((2, 3))), 'b': jnp.asarray(_inp((3,), 1.0)),
               's': jnp.asarray(0.5, jnp.float32)}
    target = jax.tree_util.tree_map(lambda p: jnp.cos(p * 3.0), params0)

    def loss(p):
        return sum(jnp.sum((a - t) ** 4 + 0.3 * (a - t) ** 2) for a, t in zip(
            jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(target)))

    makers = {
        'sgd': lambda: opt.sgd(0.05), 'momentum': lambda: opt.momentum(0.05, 0.9),
        'nesterov': lambda: opt.nesterov(0.05, 0.8), 'adagrad': lambda: opt.adagrad(0.2),
        'rmsprop': lambda: opt.rmsprop(0.02), 'rmsprop_momentum': lambda: opt.rmsprop_momentum(0.02),
        'adam': lambda: opt.adam(0.05), 'adamax': lambda: opt.adamax(0.05), 'sm3': lambda: opt.sm3(0.2),
        'adam_schedule': lambda: opt.adam(opt.exponential_decay(0.1, 3, 0.5)),
        'sgd_piecewise': lambda: opt.sgd(opt.piecewise_constant([2, 4], [0.1, 0.05, 0.01])),
    }
    for name, make in makers.items():
        init_fun, update_fun, get_params = make()
        state = init_fun(params0)
        step = lambda i, s: update_fun(i, jax.grad(loss)(get_params(s)), s)  # noqa: E731
        # sm3 keeps the parameter's shape (ints) in its state, which jit would trace.
        step = step if name == 'sm3' else jax.jit(step)
        for i in range(6):
            state = step(i, state)
        out['optimizers'][name] = _flat(get_params(state), jax)
    sched = {'exponential_decay': opt.exponential_decay(0.1, 3, 0.5),
             'inverse_time_decay': opt.inverse_time_decay(0.1, 3, 0.5),
             'inverse_time_staircase': opt.inverse_time_decay(0.1, 3, 0.5, staircase=True),
             'polynomial_decay': opt.polynomial_decay(0.1, 5, 0.01, power=2.0),
             'piecewise_constant': opt.piecewise_constant([2, 4], [0.1, 0.05, 0.01])}
    for name, f in sched.items():
        out['schedules'][name] = [float(np.round(float(f(i)), 7)) for i in range(8)]
    grads = jax.grad(loss)(params0)
    out['l2_norm'] = float(opt.l2_norm(grads))
    out['clip_grads'] = _flat(opt.clip_grads(grads, 1.0), jax)
    return out


if __name__ == '__main__':
    import jax
    print(json.dumps(run(jax)))
