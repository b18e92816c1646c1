"""Expressions for the API added to close gaps with JAX (nn activations and attention,
tree_util paths, top-level helpers, random distributions, numpy extras), evaluated by
both JAX and tinyjax. tests/test_api_gaps_recorded.py compares tinyjax with what JAX
0.10.2 gave, recorded in api_gaps.json (dtype, shape, weak type and every value).

Regenerate with: /path/to/jax-venv/bin/python tests/data/api_gaps.py jax
Names starting with 'exact:' must match bit for bit (random samplers built exactly as
JAX builds them); the others to float32 rounding.
"""
import json
import pathlib
import sys

import numpy as np

SETUP = '''
r = np.random.RandomState(0)
q = r.randn(2, 4, 4, 3).astype(np.float32)
k = r.randn(2, 5, 2, 3).astype(np.float32)
v = r.randn(2, 5, 2, 3).astype(np.float32)
bias = r.randn(2, 1, 4, 5).astype(np.float32)
mask = r.rand(2, 4, 4, 5) > 0.3
x = jnp.linspace(-3.0, 3.0, 13)
i = jnp.arange(6).reshape(2, 3)
A = jax.nn.dot_product_attention
key = jax.random.PRNGKey(0)
'''

CASES = {
    # jax.nn activations
    **{f'nn.{n}': f'jax.nn.{n}(x)' for n in (
        'tanh', 'identity', 'mish', 'squareplus', 'soft_sign', 'hard_swish', 'sparse_plus',
        'sparse_sigmoid')},
    **{f'nn.{n}.int': f'jax.nn.{n}(i)' for n in (
        'identity', 'mish', 'squareplus', 'soft_sign', 'hard_swish', 'sparse_plus',
        'sparse_sigmoid', 'log1mexp')},
    'nn.hard_tanh.int': 'jax.nn.hard_tanh(i - 2)',
    'nn.hard_tanh.weak': 'jax.nn.hard_tanh(2)',
    'nn.grad.kinks': 'jax.vmap(jax.grad(lambda a: jax.nn.relu6(a) + jax.nn.hard_tanh(a) + '
                     'jax.nn.hard_sigmoid(a)))(jnp.array([-3., -1., 0., 1., 3., 6.]))',
    'nn.squareplus.b': 'jax.nn.squareplus(x, 1.5)',
    'nn.log1mexp': 'jax.nn.log1mexp(jnp.array([0., 1e-3, 0.1, 0.69, 0.7, 1., 10., -1.]))',
    'nn.logmeanexp': 'jax.nn.logmeanexp(x)',
    'nn.logmeanexp.axis': 'jax.nn.logmeanexp(x[:12].reshape(3, 4), axis=1, keepdims=True)',
    'nn.logmeanexp.where': 'jax.nn.logmeanexp(x[:12].reshape(3, 4), axis=0, where=jnp.arange(12).reshape(3, 4) % 3 > 0)',
    'nn.grad.activations': 'jax.vmap(jax.grad(lambda a: jax.nn.mish(a) + jax.nn.squareplus(a) + '
                           'jax.nn.soft_sign(a) + jax.nn.sparse_plus(a) + jax.nn.sparse_sigmoid(a) + '
                           'jax.nn.hard_swish(a)))(x)',
    'nn.grad.log1mexp': 'jax.vmap(jax.grad(jax.nn.log1mexp))(jnp.array([0.01, 0.5, 0.7, 3.]))',
    'nn.jit.logmeanexp': 'jax.jit(lambda a: jax.nn.logmeanexp(a, axis=0))(x.reshape(13, 1))',
    # dot_product_attention (GQA: 4 query heads over 2 key/value heads)
    'attn.plain': 'A(q, k, v)',
    'attn.causal': 'A(q, k, v, is_causal=True)',
    'attn.bias_mask_scale': 'A(q, k, v, bias, mask, scale=0.5)',
    'attn.full_head_bias': 'A(q, k, v, jnp.asarray(r.randn(1, 4, 4, 5), jnp.float32))',
    'attn.seq_lengths': 'A(q, k, v, query_seq_lengths=jnp.array([2, 4], jnp.int32), '
                        'key_value_seq_lengths=jnp.array([3, 5], jnp.int32))',
    'attn.window': 'A(q, k, v, local_window_size=1)',
    'attn.window_pair': 'A(q, k, v, local_window_size=(2, 0), is_causal=True)',
    'attn.rank3': 'A(q[0], k[0], v[0])',
    'attn.residual': 'A(q, k, v, mask=mask, return_residual=True)',
    'attn.bf16': 'A(q.astype(jnp.bfloat16), k.astype(jnp.bfloat16), v.astype(jnp.bfloat16))',
    'attn.jit': 'jax.jit(lambda a, b, c: A(a, b, c, is_causal=True))(q, k, v)',
    'attn.grad': 'jax.grad(lambda a, b, c: (A(a, b, c, bias, is_causal=True) ** 2).sum(), '
                 'argnums=(0, 1, 2))(q, k, v)',
    'attn.err.heads': 'A(q[:, :, :3], k, v)',
    'attn.err.mask_dtype': 'A(q, k, v, mask=mask.astype(np.int32))',
    'attn.err.value_shape': 'A(q, k, v[:, :4])',
    # jax.random: transforms of uniform/normal bits (exact where no transcendental of
    # XLA's differs from NumPy's by an ulp), and the gamma family's rejection sampler
    'random.laplace': 'jax.random.laplace(key, (64,))',
    'exact:random.laplace16': 'jax.random.laplace(key, (16,), jnp.float16)',
    'random.logistic': 'jax.random.logistic(key, (64,))',
    'exact:random.rademacher': 'jax.random.rademacher(key, (2, 16))',
    'exact:random.rademacher8': 'jax.random.rademacher(key, (8,), jnp.int8)',
    'exact:random.triangular': 'jax.random.triangular(key, 0., jnp.array([0.3, 0.5]), 1., (8, 2))',
    'exact:random.geometric': 'jax.random.geometric(key, jnp.array([0.1, 0.5, 0.9]), (20, 3))',
    'exact:random.double_sided_maxwell': 'jax.random.double_sided_maxwell(key, 1.0, 2.0, (6,))',
    'random.cauchy': 'jax.random.cauchy(key, (64,))',
    'random.lognormal': 'jax.random.lognormal(key, 0.5, (32,))',
    'random.rayleigh': 'jax.random.rayleigh(key, jnp.array([1., 2.]), (16, 2))',
    'random.maxwell': 'jax.random.maxwell(key, (32,))',
    'random.pareto': 'jax.random.pareto(key, 3.0, (32,))',
    'random.weibull_min': 'jax.random.weibull_min(key, 2.0, 1.5, (32,))',
    'random.wald': 'jax.random.wald(key, 1.5, (32,))',
    'random.orthogonal': 'jax.random.orthogonal(key, 4, (2,))',
    'random.orthogonal_wide': 'jax.random.orthogonal(key, 2, m=3)',
    'random.mvn': 'jax.random.multivariate_normal(key, jnp.array([1., -1.]), jnp.array([[2., .5], [.5, 1.]]), (5,))',
    'random.mvn_eigh': 'jax.random.multivariate_normal(key, jnp.zeros(2), jnp.eye(2) * 3, method="eigh")',
    'random.gamma': 'jax.random.gamma(key, jnp.array([0.3, 1., 2.5, 10.] * 4))',
    'random.loggamma': 'jax.random.loggamma(key, 0.5, (16,))',
    'random.beta': 'jax.random.beta(key, 2., 3., (16,))',
    'random.dirichlet': 'jax.random.dirichlet(key, jnp.array([1., 2., 3.]), (4,))',
    'random.chisquare': 'jax.random.chisquare(key, 3., (16,))',
    'random.f': 'jax.random.f(key, 3., 5., (16,))',
    'random.t': 'jax.random.t(key, 4., (16,))',
    'random.jit.gamma': 'jax.jit(lambda kk, a: jax.random.gamma(kk, a))(key, jnp.array([0.5, 4.]))',
    'random.jit.wald': 'jax.jit(lambda kk: jax.random.wald(kk, 2.0, (8,)))(key)',
    'random.vmap.laplace': 'jax.vmap(lambda kk: jax.random.laplace(kk, (3,)))(jax.random.split(key, 4))',
    'random.vmap.beta': 'jax.vmap(lambda kk: jax.random.beta(kk, 0.7, 1.3, (3,)))(jax.random.split(key, 2))',
    'random.grad.pareto': 'jax.grad(lambda b: jax.random.pareto(key, b, (8,)).sum())(3.0)',
    'random.err.geometric_dtype': 'jax.random.geometric(key, 0.5, (3,), jnp.float32)',
    'random.err.laplace_dtype': 'jax.random.laplace(key, (3,), jnp.int32)',
    'random.err.mvn_cov': 'jax.random.multivariate_normal(key, jnp.zeros(2), jnp.eye(3))',
    # jax.numpy
    'np.bitwise_count': 'jnp.bitwise_count(jnp.array([0, 7, -1, 255, 2**30]))',
    'np.bitwise_count8': 'jnp.bitwise_count(jnp.array([3, -1], jnp.int8))',
    'np.bitwise_aliases': '(jnp.bitwise_invert(i), jnp.bitwise_left_shift(i, 2), jnp.bitwise_right_shift(i, 1))',
    'np.astype': 'jnp.astype(i, jnp.float16)',
    'np.copy': 'jnp.copy(x)',
    'np.isin': 'jnp.isin(i, jnp.array([1, 4, 7]))',
    'np.isin_invert': 'jnp.isin(x, x[::3], invert=True)',
    'np.ix_': 'jnp.ix_(jnp.array([0, 2]), jnp.array([1, 0, 1]))',
    'np.ix_index': 'jnp.arange(12).reshape(3, 4)[jnp.ix_(jnp.array([0, 2]), jnp.array([3, 1]))]',
    'np.ix_bool': 'jnp.ix_(jnp.array([True, False]))',
    'np.digitize': 'jnp.digitize(x, jnp.array([-1., 0., 1.5]))',
    'np.digitize_right': 'jnp.digitize(x, jnp.array([-1., 0., 1.5]), right=True)',
    'np.digitize_falling': 'jnp.digitize(x, jnp.array([1.5, 0., -1.]))',
    'np.geomspace': 'jnp.geomspace(1, 1000, 4)',
    'np.geomspace_neg': 'jnp.geomspace(-2., -32., 5, endpoint=False)',
    'np.diagflat': 'jnp.diagflat(i, 1)',
    'np.fill_diagonal': 'jnp.fill_diagonal(jnp.zeros((3, 4)), jnp.array([1., 2.]), inplace=False)',
    'np.fill_diagonal_wrap': 'jnp.fill_diagonal(jnp.zeros((7, 3), int), 5, wrap=True, inplace=False)',
    'np.fill_diagonal_inplace': 'jnp.fill_diagonal(jnp.zeros((2, 2)), 1.)',
    'np.matvec': 'jnp.matvec(jnp.arange(12.).reshape(2, 2, 3), jnp.array([1., 0., -1.]))',
    'np.vecmat': 'jnp.vecmat(jnp.array([1., 2.]), jnp.arange(6.).reshape(2, 3))',
    'np.fromfunction': 'jnp.fromfunction(lambda a, b: a * 10 + b, (2, 3))',
    'np.fromfunction_int': 'jnp.fromfunction(lambda a, b: a - b, (2, 2), dtype=int)',
    'np.compress': 'jnp.compress(jnp.array([True, False, True]), i, axis=1)',
    'np.compress_flat': 'jnp.compress(jnp.array([0, 1, 1, 0, 1]), i)',
    'np.compress_size': 'jnp.compress(jnp.array([True, False]), i, axis=0, size=2, fill_value=-7)',
    'np.choose': 'jnp.choose(jnp.array([0, 1, 1]), [jnp.arange(3), jnp.arange(3) * 10.])',
    'np.choose_wrap': 'jnp.choose(jnp.array([[0, 3], [-1, 1]]), [i[:, :2], -i[:, :2]], mode="wrap")',
    'np.choose_raise': 'jnp.choose(jnp.array([0, 3]), [jnp.arange(2), jnp.arange(2)])',
    'np.jit.assorted': 'jax.jit(lambda a: (jnp.isin(a, jnp.array([1., 2.])), jnp.digitize(a, jnp.array([0., 1.])), '
                       'jnp.matvec(a.reshape(1, -1)[:, :3], a[:3])))(jnp.arange(4.))',
    'np.grad.assorted': 'jax.grad(lambda a: jnp.sum(jnp.vecmat(a, jnp.ones((3, 2))) ** 2) + '
                        'jnp.sum(jnp.fill_diagonal(jnp.outer(a, a), 0., inplace=False)))(jnp.array([1., 2., 3.]))',
    'np.vmap.compress': 'jax.vmap(lambda r: jnp.compress(jnp.array([True, False, True]), r))(i)',
    'attn.vmap': 'jax.vmap(lambda a: A(a, k, v, mask=mask))(jnp.stack([q, -q]))',
}


def evaluate(jax, jnp, expr):
    env = {'jax': jax, 'jnp': jnp, 'np': np}
    exec(SETUP, env)
    try:
        out = eval(expr, env)
    except Exception as e:
        return {'error': type(e).__name__}
    leaves = jax.tree_util.tree_leaves(out)
    return {'leaves': [{'dtype': np.asarray(a).dtype.name, 'shape': list(np.shape(a)),
                        'weak': bool(getattr(a, 'weak_type', False)),
                        'values': np.asarray(a).astype(np.float64).ravel().tolist()}
                       for a in leaves]}


if __name__ == '__main__':
    import jax
    import jax.numpy as jnp
    jax.config.update('jax_platforms', 'cpu')
    path = pathlib.Path(__file__).parent / 'api_gaps.json'
    out = {'jax_version': jax.__version__,
           'cases': {name: evaluate(jax, jnp, expr) for name, expr in CASES.items()}}
    path.write_text(json.dumps(out, indent=0, sort_keys=True))
    print(len(out['cases']), 'cases ->', path, file=sys.stderr)
