"""Random jnp programs for the standing fuzzer (tests/test_fuzz_programs.py).

`make_program(seed)` draws a program from NumPy's generator only, so the same seed gives
the same program here and in tests/data/fuzz_corpus.py, which runs it under JAX 0.10.2
and records the outputs. A program is its inputs plus a list of steps; `run(prog, jnp,
inputs)` interprets it with any numpy-like module (tinyjax.numpy or jax.numpy), so one
text is the program for eager tinyjax, jit-compiled tinyjax and JAX alike.

The generator tracks each value's shape and dtype itself (it never runs anything), and
draws 5-30 steps over elementwise ops, reductions, cumulative ops, indexing, shape ops,
matmul, sort and creation, on float32, int32, bool, float16 and bfloat16, with
broadcasting, zero-size axes, scalars, NaN/inf, subnormals and int32 overflow. The
outputs are a few of the values, sometimes an input itself or one value twice.
"""
import math

import numpy as np

DTYPES = ('float32', 'int32', 'bool', 'float16', 'bfloat16')
FLOATS = ('float32', 'float16', 'bfloat16')
FLOAT_UNARY = ('sin', 'cos', 'exp', 'log', 'sqrt', 'tanh', 'abs', 'negative', 'floor',
               'ceil', 'square', 'expm1', 'log1p', 'sign', 'reciprocal', 'arctan', 'round')
INT_UNARY = ('abs', 'negative', 'square', 'sign', 'invert')
TO_BOOL = ('isnan', 'isfinite', 'isinf', 'signbit')
ARITH = ('add', 'subtract', 'multiply', 'maximum', 'minimum')
FLOAT_BINARY = ARITH + ('divide', 'arctan2', 'hypot', 'copysign')
INT_BINARY = ARITH + ('bitwise_and', 'bitwise_or', 'bitwise_xor')
COMPARE = ('less', 'greater_equal', 'equal', 'not_equal')
BOOL_BINARY = ('logical_and', 'logical_or', 'logical_xor')


def _special(rng, dtype, shape, subnormals):
    """Input values: mostly ordinary, with NaN, inf, subnormals and int32 extremes mixed in.
    XLA:CPU treats subnormal float32 as zero (it runs with FTZ/DAZ set: JAX on the CPU
    sorts 1e-40 equal to 0.0 and gives ceil(1e-40) == 0); tinyjax keeps them, as NumPy
    and IEEE do, so the inputs of programs compared with JAX carry none."""
    n = math.prod(shape)
    if dtype == 'bool':
        return (rng.random(n) < 0.5).reshape(shape)
    if dtype == 'int32':
        v = rng.integers(-20, 20, n).astype(np.int32)
        extremes = np.array([2 ** 31 - 1, -2 ** 31, 2 ** 30, 0, 1, -1], np.int32)
    else:
        v = (rng.standard_normal(n) * 3).astype(np.float32)
        extremes = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -2.5e-38]
                            + ([1e-40, -3e-39] if subnormals else []), np.float32)
    mask = rng.random(n) < 0.15
    v[mask] = rng.choice(extremes, int(mask.sum()))
    return v.reshape(shape)


class _Builder:
    def __init__(self, rng):
        self.rng = rng
        self.vals = []           # (shape, dtype) per value
        self.steps = []

    def pick(self, pred=lambda s, d: True):
        ok = [i for i, (s, d) in enumerate(self.vals) if pred(s, d)]
        return int(self.rng.choice(ok)) if ok else None

    def add(self, step, shape, dtype):
        self.steps.append(step)
        self.vals.append((tuple(shape), dtype))

    def choice(self, xs):
        return xs[int(self.rng.integers(len(xs)))]


def _broadcast_partner(b, shape):
    """A shape that broadcasts with `shape`: some axes set to 1, maybe leading ones dropped."""
    rng = b.rng
    out = [1 if rng.random() < 0.3 else s for s in shape]
    drop = int(rng.integers(0, len(shape) + 1)) if rng.random() < 0.3 else 0
    return tuple(out[drop:])


def _bcast(s1, s2):
    n = max(len(s1), len(s2))
    a, c = (1,) * (n - len(s1)) + tuple(s1), (1,) * (n - len(s2)) + tuple(s2)
    return tuple(x if y == 1 else y for x, y in zip(a, c))


def _step_elementwise(b):
    i = b.pick()
    shape, dt = b.vals[i]
    kind = b.choice(('unary', 'binary', 'binary', 'scalar', 'compare', 'where', 'cast'))
    if kind == 'unary':
        if dt in FLOATS:
            op, out = b.choice(FLOAT_UNARY + TO_BOOL), dt
            out = 'bool' if op in TO_BOOL else dt
        elif dt == 'int32':
            op, out = b.choice(INT_UNARY), dt
        else:
            op, out = 'logical_not', 'bool'
        return b.add(('unary', op, i), shape, out)
    if kind in ('binary', 'compare', 'where'):
        j = b.pick(lambda s, d: d == dt and _compatible(s, shape))
        if j is None:                 # a constant built in the program as the partner
            j, s2 = len(b.vals), _broadcast_partner(b, shape)
            b.add(('creation', 'full', s2, dt, _scalar_for(b, dt)), s2, dt)
        s2 = b.vals[j][0]
        shape_out = _bcast(shape, s2)
        if kind == 'compare':
            return b.add(('binary', b.choice(COMPARE), i, j), shape_out, 'bool')
        if kind == 'where':
            c = b.pick(lambda s, d: d == 'bool' and _compatible(s, shape_out))
            if c is None:
                return b.add(('binary', 'greater', i, j), shape_out, 'bool')
            return b.add(('where', c, i, j), _bcast(b.vals[c][0], shape_out), dt)
        ops = FLOAT_BINARY if dt in FLOATS else INT_BINARY if dt == 'int32' else BOOL_BINARY
        return b.add(('binary', b.choice(ops), i, j), shape_out, dt)
    if kind == 'scalar':
        if dt == 'bool':
            return b.add(('scalar', 'logical_or', i, False), shape, dt)
        op = b.choice(('add', 'multiply', 'subtract', 'rsub', 'maximum'))
        return b.add(('scalar', op, i, _scalar_for(b, dt)), shape, dt)
    to = b.choice(DTYPES)
    return b.add(('cast', i, to), shape, to)


def _scalar_for(b, dt):
    if dt == 'bool':
        return bool(b.rng.random() < 0.5)
    if dt == 'int32':
        return int(b.choice((2, -3, 7, 1 << 20)))
    return float(b.choice((0.5, -2.0, 3.0, 1e-3)))


def _compatible(s1, s2):
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(s1), reversed(s2)))


def _step_reduction(b):
    i = b.pick(lambda s, d: len(s) >= 1)
    if i is None:
        return _step_elementwise(b)
    shape, dt = b.vals[i]
    axis = int(b.rng.integers(len(shape))) if b.rng.random() < 0.7 else None
    keep = bool(b.rng.random() < 0.3)
    ops = ['sum']
    reduced = shape[axis] if axis is not None else math.prod(shape)
    if reduced > 0:                               # JAX raises for max/argmax of nothing
        ops += ['max', 'min', 'argmax']
    if dt in FLOATS:
        ops += ['mean'] if reduced > 0 else []
    if dt == 'bool':
        ops = ['any', 'all'] + (['argmax'] if reduced > 0 else [])
    op = b.choice(ops)
    if axis is None:
        out = (1,) * len(shape) if keep else ()
    else:
        out = tuple(1 if k == axis else s for k, s in enumerate(shape)) if keep else \
            tuple(s for k, s in enumerate(shape) if k != axis)
    odt = 'int32' if op == 'argmax' else ('int32' if op == 'sum' and dt == 'bool' else dt)
    if op == 'argmax':
        keep = False
        out = tuple(s for k, s in enumerate(shape) if k != axis) if axis is not None else ()
    b.add(('reduce', op, i, axis, keep), out, odt)


def _operand_along_an_axis(b):
    """A non-bool value with at least one axis, and one of its axes; None if none."""
    i = b.pick(lambda s, d: len(s) >= 1 and d != 'bool')
    if i is None:
        return None
    shape, dt = b.vals[i]
    return i, shape, dt, int(b.rng.integers(len(shape)))


def _step_cumulative(b):
    picked = _operand_along_an_axis(b)
    if picked is None:
        return _step_elementwise(b)
    i, shape, dt, axis = picked
    op = b.choice(('cumsum', 'cumprod', 'cummax') if dt != 'int32' else ('cumsum', 'cummax'))
    b.add(('cumulative', op, i, axis), shape, dt)


def _step_index(b):
    i = b.pick(lambda s, d: len(s) >= 1)
    if i is None:
        return _step_elementwise(b)
    shape, dt = b.vals[i]
    ax = int(b.rng.integers(len(shape)))
    n = shape[ax]
    kind = b.choice(('slice', 'rev', 'int', 'take', 'newaxis'))
    if kind == 'slice' or (kind in ('int', 'take') and n == 0):
        lo = int(b.rng.integers(0, n + 1))
        hi = int(b.rng.integers(lo, n + 1))
        step = int(b.choice((1, 1, 2, 3)))
        out = tuple(len(range(lo, hi, step)) if k == ax else s for k, s in enumerate(shape))
        return b.add(('slice', i, ax, lo, hi, step), out, dt)
    if kind == 'rev':
        return b.add(('slice', i, ax, None, None, -1), shape, dt)
    if kind == 'int':
        k = int(b.rng.integers(-n, n))
        return b.add(('at', i, ax, k), tuple(s for q, s in enumerate(shape) if q != ax), dt)
    if kind == 'take':
        idx = [int(v) for v in b.rng.integers(-n, n, int(b.rng.integers(0, 5)))]
        return b.add(('take', i, ax, idx), tuple(len(idx) if q == ax else s
                                                for q, s in enumerate(shape)), dt)
    return b.add(('newaxis', i), (1,) + shape, dt)


def _step_shape(b):
    i = b.pick()
    shape, dt = b.vals[i]
    kind = b.choice(('reshape', 'transpose', 'broadcast', 'concat', 'stack', 'squeeze'))
    if kind == 'reshape':
        n = math.prod(shape)
        cands = [(n,), (1, n), (n, 1)] + [(d, n // d) for d in (2, 3, 4) if n and n % d == 0]
        new = b.choice(cands)
        return b.add(('reshape', i, new), new, dt)
    if kind == 'transpose' and len(shape) >= 2:
        perm = tuple(int(p) for p in b.rng.permutation(len(shape)))
        return b.add(('transpose', i, perm), tuple(shape[p] for p in perm), dt)
    if kind == 'broadcast':
        new = (int(b.choice((1, 2, 3))),) + shape
        return b.add(('broadcast', i, new), new, dt)
    if kind in ('concat', 'stack') and len(shape) >= 1:
        j = b.pick(lambda s, d: d == dt and len(s) == len(shape) and (
            kind == 'stack' and s == shape or kind == 'concat' and all(
                x == y for q, (x, y) in enumerate(zip(s, shape)) if q != 0)))
        if kind == 'concat':
            out = (shape[0] + b.vals[j][0][0],) + shape[1:]
            return b.add(('concatenate', (i, j)), out, dt)
        return b.add(('stack', (i, j)), (2,) + shape, dt)
    if kind == 'squeeze' and 1 in shape:
        return b.add(('squeeze', i), tuple(s for s in shape if s != 1), dt)
    return b.add(('reshape', i, (math.prod(shape),)), (math.prod(shape),), dt)


def _step_matmul(b):
    i = b.pick(lambda s, d: len(s) == 2 and d in ('float32', 'int32'))
    if i is None:
        return _step_creation(b)
    (m, k), dt = b.vals[i]
    j = b.pick(lambda s, d: len(s) == 2 and d == dt and s[0] == k)
    if j is None:
        n = int(b.choice((1, 3, 4)))
        j = len(b.vals)
        b.add(('creation', 'linspace', (k, n), dt), (k, n), dt)
    b.add(('matmul', i, j), (m, b.vals[j][0][1]), dt)


def _step_sort(b):
    picked = _operand_along_an_axis(b)
    if picked is None:
        return _step_elementwise(b)
    i, shape, dt, ax = picked
    if b.rng.random() < 0.3 and dt != 'float32' or dt == 'float32' and b.rng.random() < 0.3:
        return b.add(('argsort', i, ax), shape, 'int32')
    b.add(('sort', i, ax), shape, dt)


def _step_creation(b):
    dt = b.choice(DTYPES)
    kind = b.choice(('full', 'ones', 'zeros', 'arange', 'linspace', 'eye', 'like'))
    shape = tuple(int(b.choice((0, 1, 2, 3, 5, 7))) for _ in range(int(b.rng.integers(0, 3))))
    if kind == 'like':
        i = b.pick()
        shape, dt = b.vals[i]
        return b.add(('like', b.choice(('ones_like', 'zeros_like')), i), shape, dt)
    if kind == 'arange':
        n = int(b.choice((0, 1, 7, 9, 16)))
        return b.add(('creation', 'arange', (n,), 'int32' if dt == 'bool' else dt), (n,),
                     'int32' if dt == 'bool' else dt)
    if kind == 'eye':
        n = int(b.choice((1, 3, 4)))
        return b.add(('creation', 'eye', (n, n), dt), (n, n), dt)
    if kind == 'linspace' and dt in ('bool',):
        dt = 'float32'
    if kind == 'full':
        return b.add(('creation', 'full', shape, dt, _scalar_for(b, dt)), shape, dt)
    return b.add(('creation', kind, shape, dt), shape, dt)


_KINDS = ((_step_elementwise, 6), (_step_reduction, 2), (_step_cumulative, 1),
          (_step_index, 2), (_step_shape, 2), (_step_matmul, 1), (_step_sort, 1),
          (_step_creation, 1))


def make_program(seed):
    """{'seed', 'inputs': [(shape, dtype)], 'steps': [...], 'outputs': [value index]}."""
    rng = np.random.default_rng(seed)
    b = _Builder(rng)
    base = tuple(int(rng.choice((0, 1, 2, 3, 4, 5, 7, 9))) for _ in range(int(rng.integers(0, 4))))
    inputs = []
    for _ in range(int(rng.integers(1, 4))):
        shape = _broadcast_partner(b, base) if rng.random() < 0.6 else base
        dt = str(rng.choice(DTYPES, p=(0.4, 0.25, 0.15, 0.1, 0.1)))
        inputs.append((shape, dt))
        b.vals.append((shape, dt))
    funcs, weights = zip(*_KINDS)
    p = np.array(weights, float) / sum(weights)
    for _ in range(int(rng.integers(5, 31))):
        funcs[int(rng.choice(len(funcs), p=p))](b)
    n = len(b.vals)
    outs = sorted(set(int(k) for k in rng.choice(np.arange(len(inputs), n),
                                                 min(int(rng.integers(1, 4)), n - len(inputs)),
                                                 replace=False)))
    outs.append(n - 1) if n - 1 not in outs else None
    if rng.random() < 0.2:
        outs.append(int(rng.integers(len(inputs))))     # an output that is an input
    if rng.random() < 0.2:
        outs.append(outs[0])                            # one value returned twice
    return {'seed': seed, 'inputs': inputs, 'steps': b.steps, 'outputs': outs,
            'avals': b.vals}


def make_inputs(prog, subnormals=True):
    rng = np.random.default_rng(prog['seed'] + 10 ** 6)
    return [_special(rng, dt, shape, subnormals) for shape, dt in prog['inputs']]


def _dtype(jnp, name):
    return getattr(jnp, name) if name != 'bool' else jnp.bool_


def run(prog, jnp, lax, args):
    """Evaluate the program with the numpy-like module `jnp` and its `lax` (inputs already
    converted to the right dtypes by `as_inputs`); returns a tuple of arrays."""
    vals = list(args)
    for st in prog['steps']:
        vals.append(_eval(st, vals, jnp, lax))
    return tuple(vals[k] for k in prog['outputs'])


def as_inputs(prog, arrays, jnp):
    return [jnp.asarray(a).astype(_dtype(jnp, dt)) for a, (_, dt) in zip(arrays, prog['inputs'])]


def _eval(st, vals, jnp, lax):
    kind = st[0]
    if kind == 'unary':
        return getattr(jnp, st[1])(vals[st[2]])
    if kind == 'binary':
        return getattr(jnp, st[1])(vals[st[2]], vals[st[3]])
    if kind == 'scalar':
        x, c = vals[st[2]], st[3]
        return c - x if st[1] == 'rsub' else getattr(jnp, st[1])(x, c)
    if kind == 'where':
        return jnp.where(vals[st[1]], vals[st[2]], vals[st[3]])
    if kind == 'cast':
        x, to = vals[st[1]], st[2]
        if to in ('int32',) and jnp.issubdtype(x.dtype, jnp.floating):
            # float -> int of NaN, inf or out-of-range values is undefined: keep it defined
            x = jnp.clip(jnp.nan_to_num(x, nan=0.0, posinf=1e4, neginf=-1e4), -1e4, 1e4)
        return x.astype(_dtype(jnp, to))
    if kind == 'reduce':
        op, x, axis, keep = st[1], vals[st[2]], st[3], st[4]
        if op == 'argmax':
            return jnp.argmax(x, axis=axis)
        return getattr(jnp, op)(x, axis=axis, keepdims=keep)
    if kind == 'cumulative':
        op, x, axis = st[1], vals[st[2]], st[3]
        if op == 'cummax':
            return lax.cummax(x, axis=axis)
        return getattr(jnp, op)(x, axis=axis)
    if kind == 'slice':
        x, ax, lo, hi, step = vals[st[1]], st[2], st[3], st[4], st[5]
        return x[(slice(None),) * ax + (slice(lo, hi, step),)]
    if kind == 'at':
        return vals[st[1]][(slice(None),) * st[2] + (st[3],)]
    if kind == 'take':
        return jnp.take(vals[st[1]], jnp.asarray(st[3], dtype=jnp.int32), axis=st[2])
    if kind == 'newaxis':
        return vals[st[1]][None]
    if kind == 'reshape':
        return jnp.reshape(vals[st[1]], st[2])
    if kind == 'transpose':
        return jnp.transpose(vals[st[1]], st[2])
    if kind == 'broadcast':
        return jnp.broadcast_to(vals[st[1]], st[2])
    if kind == 'concatenate':
        return jnp.concatenate([vals[k] for k in st[1]], axis=0)
    if kind == 'stack':
        return jnp.stack([vals[k] for k in st[1]])
    if kind == 'squeeze':
        return jnp.squeeze(vals[st[1]])
    if kind == 'matmul':
        return jnp.matmul(vals[st[1]], vals[st[2]])
    if kind == 'sort':
        return jnp.sort(vals[st[1]], axis=st[2])
    if kind == 'argsort':
        return jnp.argsort(vals[st[1]], axis=st[2], stable=True).astype(jnp.int32)
    if kind == 'like':
        return getattr(jnp, st[1])(vals[st[2]])
    if kind == 'creation':
        what, shape, dt = st[1], st[2], _dtype(jnp, st[3])
        if what == 'full':
            return jnp.full(shape, st[4], dt)
        if what in ('ones', 'zeros'):
            return getattr(jnp, what)(shape, dt)
        if what == 'arange':
            return jnp.arange(shape[0], dtype=dt)
        if what == 'eye':
            return jnp.eye(shape[0], dtype=dt)
        if what == 'linspace':
            n = math.prod(shape)
            return jnp.linspace(-1.5, 2.0, n).astype(dt).reshape(shape)
    raise ValueError(f'unknown step {st!r}')
