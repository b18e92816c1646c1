"""Property test: random elementwise / broadcast / reduction programs give the same
result under jit (fused, generated code built for the host) as eagerly."""
import numpy as np
from hypothesis import given, settings, strategies as st, HealthCheck

import tinyjax as jax
import tinyjax.numpy as jnp

UNARY = {
    'tanh': jnp.tanh, 'sin': jnp.sin, 'neg': lambda x: -x, 'abs': jnp.abs,
    'expneg': lambda x: jnp.exp(-jnp.abs(x)), 'log1p': lambda x: jnp.log1p(jnp.abs(x)),
    'square': lambda x: x * x * 0.5, 'sqrt': lambda x: jnp.sqrt(jnp.abs(x) + 1),
    'half': lambda x: x.astype(jnp.float16).astype(jnp.float32),
    'floor': jnp.floor, 'logistic': lambda x: 1 / (1 + jnp.exp(-x)),
}
BINARY = {
    'add': lambda a, b: a + b, 'sub': lambda a, b: a - b, 'mul': lambda a, b: a * b,
    'max': jnp.maximum, 'min': jnp.minimum, 'div': lambda a, b: a / (1 + jnp.abs(b)),
    'where': lambda a, b: jnp.where(a > b, a, b * 2),
}
RAN = []
REDUCE = {'sum': jnp.sum, 'max': jnp.max, 'min': jnp.min, 'mean': jnp.mean}


@st.composite
def programs(draw):
    rank = draw(st.integers(1, 3))
    base = tuple(draw(st.sampled_from([1, 2, 3, 5, 8])) for _ in range(rank))
    if rank >= 2 and draw(st.booleans()):
        base = (base[1],) + base[1:]          # two equal axes: transposes stay in shape
    n_in = draw(st.integers(1, 3))
    in_shapes = []
    for _ in range(n_in):
        shape = tuple(s if draw(st.booleans()) or s == 1 else 1 for s in base)
        keep = draw(st.integers(0, rank))     # drop leading axes: numpy broadcasting
        in_shapes.append(shape[rank - keep:] if draw(st.booleans()) else shape)
    ops = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(['unary', 'binary', 'binary', 'reduce', 'struct']))
        if kind == 'unary':
            ops.append(('unary', draw(st.sampled_from(sorted(UNARY)))))
        elif kind == 'binary':
            ops.append(('binary', draw(st.sampled_from(sorted(BINARY)))))
        elif kind == 'reduce':
            ops.append(('reduce', draw(st.sampled_from(sorted(REDUCE))),
                        draw(st.integers(0, rank - 1)), draw(st.booleans())))
        else:
            ops.append(('struct', draw(st.sampled_from(['flip', 'transpose', 'bcast']))))
    picks = draw(st.lists(st.integers(0, 10 ** 6), min_size=len(ops) * 2 + 3,
                          max_size=len(ops) * 2 + 3))
    n_out = draw(st.integers(1, 3))
    return base, in_shapes, ops, picks, n_out


def build(base, ops, picks, n_out):
    def f(*xs):
        pool = list(xs)
        pk = iter(picks)

        def pick():
            return pool[next(pk) % len(pool)]
        for op in ops:
            if op[0] == 'unary':
                pool.append(UNARY[op[1]](pick()))
            elif op[0] == 'binary':
                pool.append(BINARY[op[1]](pick(), pick()))
            elif op[0] == 'reduce':
                x = pick()
                if x.ndim:
                    pool.append(REDUCE[op[1]](x, axis=op[2] % x.ndim, keepdims=op[3]))
            else:
                x = pick()
                if op[1] == 'flip' and x.ndim:
                    pool.append(jnp.flip(x, 0))
                elif op[1] == 'transpose' and x.ndim >= 2 and x.shape[0] == x.shape[1]:
                    pool.append(jnp.swapaxes(x, 0, 1))
                elif op[1] == 'bcast' and len(x.shape) <= len(base):
                    try:
                        pool.append(jnp.broadcast_to(x, base) * 1.5)
                    except Exception:
                        pass
        return [pool[-1 - (next(pk) % min(len(pool), 4))] for _ in range(n_out)]
    return f


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(), st.integers(0, 2 ** 31))
def test_random_programs_jit_equals_eager(prog, seed):
    base, in_shapes, ops, picks, n_out = prog
    rng = np.random.default_rng(seed)
    xs = [jnp.asarray(rng.standard_normal(s).astype(np.float32)) for s in in_shapes]
    f = build(base, ops, picks, n_out)
    try:
        want = f(*xs)
    except (TypeError, ValueError):
        return       # an op sequence whose shapes do not broadcast: not a program
    got = jax.jit(f)(*xs)
    RAN.append(len(ops))
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_property_test_ran_programs():
    # Most drawn programs must be valid, or the property above proves little.
    assert len(RAN) >= 20 or not RAN
