"""Records tests/data/random_vectors.json from real JAX (run with JAX's Python, once):

    /tmp/jaxvenv/bin/python tests/data/make_random_vectors.py

Each case names a function of jax.random (or an initializer), its arguments, and the
output's dtype, shape and raw bits (floats as their unsigned-integer bit patterns), so
the test can demand bit-exactness where JAX's construction is exact.
"""
import json
import os
import sys

import numpy as np

X64 = '--x64' in sys.argv
if X64:
    os.environ['JAX_ENABLE_X64'] = '1'
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import random  # noqa: E402
from jax.nn import initializers  # noqa: E402

jax.config.update('jax_platforms', 'cpu')
_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def enc(v):
    if isinstance(v, tuple):
        return {'tuple': [enc(x) for x in v]}
    if isinstance(v, np.ndarray):
        return {'array': v.tolist(), 'dtype': v.dtype.name}
    if isinstance(v, type) or isinstance(v, np.dtype):
        return {'dtype': np.dtype(v).name}
    return v


def dec(v):
    if isinstance(v, dict) and 'tuple' in v:
        return tuple(dec(x) for x in v['tuple'])
    if isinstance(v, dict) and 'array' in v:
        return np.asarray(v['array'], dtype=jnp.dtype(v['dtype']))
    if isinstance(v, dict) and 'dtype' in v:
        return jnp.dtype(v['dtype'])
    return v


def out_record(y):
    y = np.asarray(y)
    if y.dtype.kind == 'f' or y.dtype.name == 'bfloat16':
        data = y.view(_BITS[y.dtype.itemsize]).ravel().tolist()
    else:
        data = y.ravel().tolist()
    return {'dtype': y.dtype.name, 'shape': list(y.shape), 'data': data}


cases = []


def case(fn, seed, *args, init=None, **kwargs):
    key = random.PRNGKey(seed)
    if init is not None:
        f = getattr(initializers, fn)(**{k: dec(v) for k, v in init.items()})
        y = f(key, *[dec(a) for a in args], **{k: dec(v) for k, v in kwargs.items()})
    else:
        y = getattr(random, fn)(key, *[dec(a) for a in args], **{k: dec(v) for k, v in kwargs.items()})
    cases.append({'fn': fn, 'seed': seed, 'args': [enc(a) for a in args],
                  'kwargs': {k: enc(v) for k, v in kwargs.items()}, 'init': init,
                  'x64': X64, 'out': out_record(y)})


f16, bf16, f32, f64 = np.float16, jnp.bfloat16, np.float32, np.float64
SEEDS = (0, 42, 2**31 + 7)
seeds_rec = {}
for s in (0, 1, 42, -1, 2**31, 2**32 + 5, 2**40 + 3, -2**40, 2**63 - 1):
    seeds_rec[str(s)] = np.asarray(random.PRNGKey(s)).tolist()
for s in SEEDS:
    case('split', s)
    case('split', s, 5)
    case('split', s, (2, 3))
    for d in (0, 1, 7, 2**31, 2**32 - 1):
        case('fold_in', s, d)
    for shape in ((), (5,), (2, 3), (3, 1, 7)):
        for dt in (np.uint8, np.uint16, np.uint32) + ((np.uint64,) if X64 else ()):
            case('bits', s, shape, dt)
    float_dts = (f16, bf16, f32) + ((f64,) if X64 else ())
    for dt in float_dts:
        case('uniform', s, (7,), dt)
        case('uniform', s, (2, 5), dt, -3.0, 5.0)
        case('normal', s, (11,), dt)
        case('normal', s, (3, 4), dt)
        case('exponential', s, (9,), dt)
        case('gumbel', s, (9,), dt)
        case('truncated_normal', s, -1.5, 2.0, (8,), dt)
    case('uniform', s, (2, 3), f32, np.array([0., 1., 2.], f32), np.array([[1.], [5.]], f32))
    if not X64:   # large cases once is enough
        case('uniform', s, (1000,))
        case('normal', s, (2000,))
        case('normal', s, (), f32)
    case('gumbel', s, (6,), f32, 'high')
    case('truncated_normal', s, np.array([-1., 0., 0.5], f32), 3.0)
    case('bernoulli', s, 0.5, (10,))
    case('bernoulli', s, np.array([0.1, 0.5, 0.9], f32), (4, 3))
    case('bernoulli', s, 0.3, (8,), 'high')
    case('randint', s, (10,), 0, 10)
    case('randint', s, (3, 4), -5, 100)
    case('randint', s, (6,), np.array([0, 10, 100, 1000, -50, 7], np.int32), 2000)
    case('randint', s, (8,), -2**31, 2**31 - 1)
    case('randint', s, (8,), 0, 256, np.uint8)
    case('randint', s, (8,), -128, 128, np.int8)
    case('randint', s, (8,), 0, 1000, np.int16)
    case('randint', s, (5,), 7, 3)
    if X64:
        case('randint', s, (6,), -2**40, 2**40, np.int64)
    case('categorical', s, np.array([[0., 1., 2., -1., 0.5]] * 3, f32))
    case('categorical', s, np.array([[0., 1., 2.], [3., -1., 0.]], f32), 0)
    case('categorical', s, np.array([0.1, 0.2, 0.3, 0.4], f32), -1, (5,))
    case('categorical', s, np.array([[0., 1., 2., -1., 0.5]] * 2, f32), -1, (3, 2), False)
    case('permutation', s, 10)
    case('permutation', s, np.arange(15, dtype=np.int32).reshape(5, 3))
    case('permutation', s, np.arange(15, dtype=np.int32).reshape(5, 3), 1)
    case('permutation', s, np.arange(12, dtype=np.float32).reshape(3, 4), 1, True)
    case('choice', s, 10, (4,))
    case('choice', s, 10, (3, 2), False)
    case('choice', s, np.arange(20, dtype=np.float32).reshape(5, 4), (3,), True, None, 1)
    case('choice', s, 5, (6,), True, np.array([0.1, 0.2, 0.3, 0.2, 0.2], f32))
    case('choice', s, 5, (3,), False, np.array([0.1, 0.2, 0.3, 0.2, 0.2], f32))
    case('choice', s, np.arange(10, dtype=np.int32) * 3, (2, 2), False)
    if X64:
        continue
    for name in ('glorot_normal', 'glorot_uniform', 'he_normal', 'he_uniform', 'lecun_normal',
                 'lecun_uniform', 'xavier_normal', 'xavier_uniform'):
        case(name, s, (4, 5), init={})
        case(name, s, (3, 3, 2, 8), f32, init={})
    case('variance_scaling', s, (6, 4), init={'scale': 0.5, 'mode': 'fan_out',
                                             'distribution': 'normal'})
    case('variance_scaling', s, (2, 6, 4), init={'scale': 2.0, 'mode': 'fan_geo_avg',
                                                'distribution': 'uniform', 'in_axis': 1,
                                                'out_axis': 2, 'batch_axis': 0})
    case('variance_scaling', s, (5, 7), f16, init={'scale': 1.0, 'mode': 'fan_avg',
                                                  'distribution': 'truncated_normal'})
    case('normal', s, (3, 4), init={'stddev': 0.5})
    case('uniform', s, (3, 4), init={'scale': 2.0})
    case('truncated_normal', s, (3, 4), init={'stddev': 0.1})

vm = {}
for s in SEEDS:
    keys = random.split(random.PRNGKey(s), 8)
    vm[str(s)] = out_record(jax.vmap(lambda k: random.normal(k, (3,)))(keys))
    # Nested: vmap over keys of vmap over fold_in data.
    vm[str(s) + '_fold'] = out_record(jax.vmap(lambda k: jax.vmap(
        lambda d: random.uniform(random.fold_in(k, d), (2,)))(jnp.arange(3)))(keys))

path = os.path.join(os.path.dirname(__file__), 'random_vectors.json')
data = json.load(open(path)) if os.path.exists(path) else {}
data['x64' if X64 else 'x32'] = {'seeds': seeds_rec, 'cases': cases, 'vmap': vm}
data['jax_version'] = jax.__version__
with open(path, 'w') as f:
    json.dump(data, f, separators=(',', ':'))
print(len(cases), 'cases', os.path.getsize(path), 'bytes')
