"""Expressions evaluated by both JAX and tinyjax; tests/test_jax_parity.py compares the
dtype, shape, weak type and values with the lines recorded from JAX 0.10.2 in
jax_parity.txt. Regenerate with: /path/to/jax-venv/bin/python tests/data/jax_parity.py jax"""
import sys

import numpy as np

SETUP = '''
x = jnp.arange(6.0).reshape(2, 3) - 2.5
i = jnp.arange(6).reshape(2, 3)
b = i > 2
h = x.astype(jnp.float16)
'''

EXPRS = [
    'x.sum()', 'i.sum()', 'b.sum()', 'i.mean()', 'h.mean()', 'h.sum()', 'i / 2', 'i // 2', 'i ** 2',
    'x ** 2', 'i * 2.5', 'b + 1', 'b * b', 'h + 1.0', 'h * x', 'jnp.float32(2) * i',
    'jnp.int8(3) + i', 'jnp.uint8(3) + 300', 'jnp.abs(i)', 'jnp.sqrt(i)', 'jnp.argmax(x)',
    'jnp.cumsum(b)', 'jnp.prod(i)', 'jnp.var(i)', 'jnp.maximum(i, 2.5)', 'jnp.where(b, i, 0.5)',
    'jnp.clip(i, 1, 3)', 'jnp.round(x)', 'jnp.floor(i)', 'jnp.sign(x)', 'jnp.linspace(0, 1, 4)',
    'jnp.linspace(-2.5, 2.5, 11)', 'jnp.linspace(0., 1., 7)', 'jnp.arange(0, 1, 0.25)',
    'jnp.zeros(3, int)', 'jnp.eye(2, dtype=bool)', 'x @ x.T', 'i @ i.T', 'jnp.dot(i, x.T)',
    'jnp.concatenate([i, x])', 'jnp.stack([b, b])', 'x.astype(int)', 'jnp.array([1, 2.0])',
    'jnp.array([True, 2])', 'jnp.mean(b)', 'jnp.min(i, axis=0)', 'jnp.any(i)', 'jnp.std(x, ddof=1)',
    'jnp.exp(b)', 'jnp.remainder(i, -4)', 'jnp.square(b)', 'jnp.true_divide(b, 2)', 'lax.add(x, 1.0)',
    'jnp.isnan(i)', '-b', '~b', 'i >> 1', 'jnp.nan_to_num(x / 0)', 'jnp.median(x)',
    'jnp.sort(x, axis=0)', 'jnp.argsort(-x)', 'x[:, None, 1]', 'x[i[0] % 2]', 'x.at[0, 1].set(9)',
    'jnp.einsum("ij,kj->ik", x, x)', 'jnp.tile(b, 2)', 'jnp.repeat(i, 2)', 'jnp.sign(b)',
    'jnp.negative(i)', 'jnp.cbrt(i)', 'jnp.logaddexp(x, 1)', 'jnp.hypot(i, i)', 'jnp.cumprod(b)',
    'jnp.diff(b)', 'jnp.sum(b, dtype=jnp.float32)', 'jnp.max(b)', 'jnp.argmin(b)',
    'jnp.power(i, 2.0)', 'jnp.power(2, i)', 'jnp.power(x, i)', 'jnp.float_power(i, 2)',
    'jnp.floor_divide(x, 2)', 'jnp.fmod(i, 4)', 'jnp.ldexp(x, i)', 'jnp.bincount(i.ravel())',
    'jnp.unique(i % 3)', 'jnp.histogram(x)[0]', 'jnp.histogram(x)[1]',
    'jax.grad(lambda a: (a ** 3).sum())(x)', 'jax.grad(lambda a: jnp.max(a))(x)',
    'jax.grad(lambda a: jnp.linalg.norm(a))(x)', 'jax.jacfwd(jnp.tanh)(x[0])',
    'jax.hessian(lambda a: (a ** 4).sum())(x[0])', 'jax.nn.gelu(x)', 'jax.nn.softplus(x)',
    'jax.nn.one_hot(i[0], 4)', 'jax.nn.log_softmax(x)', 'jax.random.normal(jax.random.PRNGKey(1), (3,))',
    'jax.random.randint(jax.random.PRNGKey(2), (4,), 0, 10)',
    'jax.random.uniform(jax.random.PRNGKey(3), (2,), minval=-1.)', 'jnp.trace(x[:, :2])',
    'jnp.diag(jnp.arange(3))', 'jnp.kron(b, i)', 'jnp.tril(x)', 'jnp.roll(i, 1)', 'jnp.flip(i)',
    'jnp.pad(i, 1, mode="edge")', 'jnp.where(x > 0)[0]', 'jnp.nonzero(b)[1]',
    'jnp.take_along_axis(x, i % 3, 1)', 'jnp.searchsorted(jnp.arange(5.), 2.5)',
    'jnp.interp(1.5, jnp.arange(3.), jnp.arange(3.) ** 2)', 'lax.rsqrt(jnp.abs(x) + 1)',
    'lax.integer_pow(x, 3)', 'lax.clamp(0.0, x, 1.0)', 'lax.cumsum(i, axis=1, reverse=True)',
    'lax.dynamic_slice(x, (1, 1), (1, 2))', 'lax.top_k(x[0], 2)[0]', 'jnp.linalg.det(x[:, :2])',
    'jnp.linalg.inv(jnp.eye(2) * 2)', 'x.T.flatten()', 'i.astype(jnp.bfloat16) * 1.5',
    'jnp.mean(i, where=b)', 'jnp.percentile(x, 30)',

    'jnp.zeros((2, 0)).sum(0)', 'jnp.ones(3, dtype=jnp.uint8) - 2', 'jnp.int32(5) / jnp.int32(2)', 'jnp.array(2**31 - 1) + 1',
    'jnp.float16(1) + jnp.bfloat16(1)', 'jnp.uint32(1) + jnp.int32(1)', 'jnp.int8(1) + jnp.uint8(1)', 'jnp.array(3) * 1.5',
    'x[-1]', 'x[..., ::-2]', 'x[jnp.array([True, False])]', 'x[1:, jnp.array([0, 2])]', 'i[:, [2, 0]]', 'x[None]',
    'x.at[:, 0].add(1.0)', 'x.at[jnp.array([0, 0])].add(1.0)', 'x.at[5].set(1.0)', 'x[7]', 'jnp.take(x, 10, mode="clip")',
    'jax.vmap(lambda r: r.sum())(x)', 'jax.vmap(jnp.dot, (0, None))(x, jnp.ones(3))', 'jax.jit(lambda a: a * 2)(i)',
    'jax.jit(lambda a, n: a ** n, static_argnums=1)(x, 3)', 'jax.value_and_grad(lambda a: jnp.sum(a ** 2))(x)[1]',
    'jax.grad(lambda a: jnp.sum(jnp.abs(a)))(x)', 'jax.grad(lambda a: jnp.sum(jnp.sort(a)))(x)',
    'jax.grad(lambda a: jnp.sum(jnp.where(a > 0, a, 0.)))(x)', 'jax.grad(lambda a: jnp.sum(a[::2]))(x[0])',
    'jax.grad(lambda a: jnp.prod(a))(x[0])', 'jax.grad(lambda a: jnp.sum(jnp.cumsum(a)))(x[0])',
    'jax.grad(lambda a: jax.nn.relu(a).sum())(x)', 'jax.grad(lambda a: jnp.mean(jax.nn.softmax(a) ** 2))(x)',
    'jax.jacrev(lambda a: a[::-1] * 2)(x[0])', 'jax.grad(lambda a: lax.fori_loop(0, 3, lambda k, c: c * a, 1.))(2.)',
    'jax.grad(lambda a: lax.cond(a > 0, jnp.sin, jnp.cos, a))(1.)', 'lax.scan(lambda c, v: (c + v, c * v), 0., x[0])[1]',
    'jnp.split(jnp.arange(6), [2, 3])[1]', 'jnp.array_split(jnp.arange(5), 3)[2]', 'jnp.moveaxis(x, 0, 1)', 'jnp.squeeze(x[None])',
    'jnp.expand_dims(i, (0, 2)).shape', 'jnp.broadcast_to(b, (3, 2, 3))', 'jnp.vstack([i, i])', 'jnp.hstack([x, x])',
    'jnp.meshgrid(jnp.arange(2), jnp.arange(3))[0]', 'jnp.isclose(x, x + 1e-9)', 'jnp.allclose(x, x)',
    'jnp.nanmean(jnp.array([1., jnp.nan]))', 'jnp.quantile(x, 0.25)', 'jnp.cov(x)', 'jnp.corrcoef(x)', 'jnp.outer(i[0], x[0])',
    'jnp.full((2,), 3)', 'jnp.full_like(x, 2)', 'jnp.zeros_like(b)', 'jnp.ones_like(i, dtype=float)', 'jnp.identity(2, dtype=int)',
    'jnp.logspace(0, 2, 3)', 'jnp.tri(3)', 'jnp.triu(x)', 'jnp.rot90(x)', 'jnp.count_nonzero(b)', 'jnp.average(x, weights=jnp.arange(3.), axis=1)',
    'jnp.atleast_2d(3.0)', 'jnp.lexsort((i[0], x[0]))', 'jnp.partition(x[0], 1)', 'jnp.convolve(x[0], jnp.ones(2))', 'jnp.polyval(jnp.ones(3), 2.)',
    'jnp.linalg.norm(x, ord=2)', 'jnp.linalg.norm(x, axis=1, ord=1)', 'jnp.linalg.svd(x, compute_uv=False)',
    'jnp.linalg.eigh(jnp.eye(2) * 3)[0]', 'jnp.linalg.solve(jnp.eye(2) * 2, jnp.ones(2))', 'jnp.linalg.slogdet(jnp.eye(2) * 2)[1]',
    'jax.scipy.special.logsumexp(x, axis=1)', 'jax.nn.sigmoid(x)', 'jax.nn.silu(x)', 'jax.nn.elu(x)', 'jax.nn.leaky_relu(x)',
    'jax.random.split(jax.random.PRNGKey(0))', 'jax.random.fold_in(jax.random.PRNGKey(0), 7)', 'jax.random.bernoulli(jax.random.PRNGKey(4), 0.3, (5,))',
    'jax.random.permutation(jax.random.PRNGKey(5), 6)', 'jax.random.choice(jax.random.PRNGKey(6), 10, (3,), replace=False)',
    'jax.random.categorical(jax.random.PRNGKey(7), x)', 'jax.random.truncated_normal(jax.random.PRNGKey(8), -1., 1., (3,))',
    'jax.nn.initializers.glorot_uniform()(jax.random.PRNGKey(9), (2, 3))', 'jax.tree_util.tree_leaves({"b": 1, "a": (2, None)})',
    'jax.vmap(lambda a: a[::-1])(x)', 'jax.vmap(lambda a: jnp.sort(a))(x)', 'jax.vmap(lambda a: a.at[0].set(9.))(x)',
    'jax.vmap(lambda a, k: a[k])(x, jnp.array([2, 0]))', 'jax.vmap(jnp.cumsum)(x)', 'jax.vmap(lambda a: jnp.argmax(a))(x)',
    'jax.vmap(lambda a: jnp.pad(a, 1))(x)', 'jax.vmap(lambda a: jnp.concatenate([a, a]))(x)', 'jax.vmap(jnp.outer, (0, None))(x, x[0])',
    'jax.vmap(lambda a: lax.dynamic_slice(a, (1,), (2,)))(x)', 'jax.vmap(lambda a: jnp.where(a > 0, a, -a))(x)', 'jax.vmap(jax.vmap(lambda v: v * 2))(x)',
    'jax.vmap(lambda a: a, in_axes=1)(x)', 'jax.vmap(lambda a: a.sum(), in_axes=1)(x)', 'jax.vmap(lambda a: a, out_axes=1)(x)',
    'jax.vmap(jax.grad(lambda a: jnp.sum(jnp.sin(a))))(x)', 'jax.vmap(lambda k: jax.random.normal(k, (2,)))(jax.random.split(jax.random.PRNGKey(0), 3))',
    'jax.vmap(lambda a: lax.fori_loop(0, 3, lambda j, c: c + a, 0.))(x[0])', 'jax.vmap(lambda a: lax.cond(a > 0, lambda v: v, lambda v: -v, a))(x[0])',
    'jax.vmap(jnp.linalg.det)(jnp.stack([jnp.eye(2), 2 * jnp.eye(2)]))',
    'jax.jit(lambda a: (a, a * 2))(x)[1]', 'jax.jit(lambda d: d["a"] + d["b"])({"a": x, "b": 1.0})', 'jax.jit(jnp.argsort)(x[0])',
    'jax.jit(lambda a: jnp.take(a, jnp.array([0, 5])))(x)', 'jax.jit(lambda a: a.reshape(3, 2).T)(x)', 'jax.jit(lambda a: jnp.max(a, axis=0))(x)',
    'jax.jit(lambda a: jax.nn.softmax(a, axis=0))(x)', 'jax.jit(lambda a: jnp.mean(a ** 2) - jnp.mean(a) ** 2)(x)', 'jax.jit(lambda a: a.astype(jnp.float16) * 3)(x)',
    'jax.jit(lambda a: (a > 0).astype(jnp.float32).sum())(x)', 'jax.jit(lambda a: jnp.tanh(a) @ a.T)(x)', 'jax.jit(lambda a: lax.reduce_max(a, (1,)))(x)',
    'jax.jit(jax.grad(lambda a: jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(a), jnp.array([[0], [2]]), 1))))(x)',
    'jax.jit(lambda a: jnp.linalg.norm(a, axis=-1, keepdims=True))(x)', 'jax.jit(lambda a: jnp.clip(a, -1, 1).round())(x)',
    'jax.jit(lambda: jnp.arange(5) % 3)()', 'jax.jit(lambda a: jnp.exp(a) / jnp.exp(a).sum(1, keepdims=True))(x)',
    'jax.jvp(jnp.sin, (x,), (jnp.ones_like(x),))[1]', 'jax.linearize(jnp.exp, 1.0)[1](2.0)', 'jax.vjp(jnp.tanh, x)[1](jnp.ones_like(x))[0]',
    'jax.grad(lambda a, b: a * b, argnums=1)(2., 3.)', 'jax.value_and_grad(lambda a: (a ** 2, a), has_aux=True)(3.)[1]',
    'jax.jacrev(lambda a: {"s": a.sum(), "p": a.prod()})(x[0])["p"]', 'jax.hessian(lambda a: jnp.sum(jnp.sin(a) * a))(x[0])',
    'jax.grad(jax.grad(lambda a: a ** 4))(2.)', 'jax.grad(lambda a: jnp.linalg.norm(a - 1.5))(x)',
]


def describe(jax, jnp, lax, expr):
    env = {'jax': jax, 'jnp': jnp, 'lax': lax}
    exec(SETUP, env)
    try:
        r = eval(expr, env)
    except Exception as e:
        return f'{expr} | ERROR {type(e).__name__}'
    a = np.asarray(r)
    vals = a.ravel()[:6].tolist() if a.dtype == bool else \
        np.round(a.astype(np.float64), 4).ravel()[:6].tolist()
    return f'{expr} | {a.dtype} | {a.shape} | {getattr(r, "weak_type", "-")} | {vals}'


if __name__ == '__main__':
    if sys.argv[1:] == ['jax']:
        import jax
        import jax.numpy as jnp
        import jax.scipy.special  # noqa: F401
        from jax import lax
    else:
        import tinyjax as jax
        import tinyjax.numpy as jnp
        from tinyjax import lax
    for e in EXPRS:
        print(describe(jax, jnp, lax, e))
