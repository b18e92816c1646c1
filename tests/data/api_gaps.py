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
    # jax.numpy, second batch (assorted2)
    'np.insert': 'jnp.insert(jnp.arange(5), 2, 9)',
    'np.insert_multi': 'jnp.insert(jnp.arange(5.), jnp.array([1, -1, 1]), jnp.array([7., 8., 9.]))',
    'np.insert_axis': 'jnp.insert(i, 1, jnp.array([10, 20]), axis=1)',
    'np.insert_axis0_row': 'jnp.insert(i, 0, jnp.array([7, 8, 9]), axis=0)',
    'np.insert_slice': 'jnp.insert(i, slice(0, 2), 5, axis=1)',
    'np.insert_float_idx': 'jnp.insert(i, jnp.array([1.5]), 5)',
    'np.insert_2d_idx': 'jnp.insert(i, jnp.array([[1]]), 5)',
    'np.delete': 'jnp.delete(jnp.arange(6.), 2)',
    'np.delete_neg_axis': 'jnp.delete(i, -1, axis=1)',
    'np.delete_list': 'jnp.delete(jnp.arange(6), jnp.array([0, 3, 3]))',
    'np.delete_slice': 'jnp.delete(i, slice(0, 3, 2), axis=1)',
    'np.delete_bool': 'jnp.delete(i, jnp.array([True, False]), axis=0)',
    'np.delete_bool_bad': 'jnp.delete(i, jnp.array([True]), axis=0)',
    'np.delete_float': 'jnp.delete(i, jnp.array([1.0]))',
    'np.delete_unique': 'jnp.delete(jnp.arange(8), jnp.array([5, 1, -1]), assume_unique_indices=True)',
    'np.delete_oob': 'jnp.delete(i, 3, axis=1)',
    'np.block': 'jnp.block([[jnp.ones((2, 2)), jnp.zeros((2, 1))], [jnp.full((1, 3), 2.)]])',
    'np.block_1d': 'jnp.block([jnp.arange(2), 5, jnp.arange(3)])',
    'np.block_scalar': 'jnp.block(3.)',
    'np.block_tuple': 'jnp.block((jnp.ones(2), jnp.ones(2)))',
    'np.block_depth': 'jnp.block([[jnp.ones(2)], jnp.ones(2)])',
    'np.block_empty': 'jnp.block([])',
    'np.piecewise': 'jnp.piecewise(x, [x < 0, x > 1], [lambda a: -a, lambda a: a ** 2, 0.5])',
    'np.piecewise_nodefault': 'jnp.piecewise(i, [i < 2, i > 3], [lambda a: a * 10, -1])',
    'np.piecewise_args': 'jnp.piecewise(x, [x < 0], [lambda a, k: a * k, lambda a, k: a + k], 3.)',
    'np.piecewise_bad': 'jnp.piecewise(x, [x < 0], [1., 2., 3.])',
    'np.nanmedian': 'jnp.nanmedian(jnp.array([[1., jnp.nan, 3., 4.], [jnp.nan] * 4, [5., 2., jnp.nan, 0.]]), axis=1)',
    'np.nanmedian_all': 'jnp.nanmedian(jnp.array([[1., jnp.nan], [3., 4.]]))',
    'np.nanmedian_keep': 'jnp.nanmedian(jnp.array([[1., jnp.nan], [3., 4.]]), axis=0, keepdims=True)',
    'np.nanmedian_int': 'jnp.nanmedian(i, axis=0)',
    'np.nanquantile': 'jnp.nanquantile(jnp.array([1., jnp.nan, 3., 4., 10.]), jnp.array([0., 0.3, 0.5, 1.]))',
    'np.nanquantile_methods': 'tuple(jnp.nanquantile(jnp.array([[1., jnp.nan, 3., 4., 10.]] * 2), 0.4, axis=1, method=m) for m in ("lower", "higher", "nearest", "midpoint", "linear"))',
    'np.nanquantile_tuple_axis': 'jnp.nanquantile(jnp.arange(24.).reshape(2, 3, 4).at[0, 1, 2].set(jnp.nan), jnp.array([0.25, 0.75]), axis=(0, 2), keepdims=True)',
    'np.nanquantile_bad_method': 'jnp.nanquantile(x, 0.5, method="foo")',
    'np.nanquantile_q2d': 'jnp.nanquantile(x, jnp.ones((2, 2)) * 0.5)',
    'np.nanquantile_out': 'jnp.nanquantile(x, 0.5, overwrite_input=True)',
    'np.nanpercentile': 'jnp.nanpercentile(jnp.array([1., jnp.nan, 3., 4., 10.]), 30)',
    'np.nanpercentile_vec': 'jnp.nanpercentile(i, jnp.array([10, 90]), axis=1)',
    'np.intersect1d': 'jnp.intersect1d(jnp.array([5, 1, 3, 3, 7]), jnp.array([3, 7, 7, 8, 1]))',
    'np.intersect1d_idx': 'jnp.intersect1d(jnp.array([5, 1, 3, 3, 7]), jnp.array([3, 7, 7, 8, 1]), return_indices=True)',
    'np.intersect1d_promote': 'jnp.intersect1d(jnp.array([1, 2, 3]), jnp.array([2., 3.5]))',
    'np.intersect1d_size': 'jnp.intersect1d(jnp.array([5, 1, 3, 3, 7]), jnp.array([3, 7, 7, 8, 1]), size=5)',
    'np.intersect1d_size_fill': 'jnp.intersect1d(jnp.array([5, 1, 3, 3, 7]), jnp.array([3, 7, 8]), size=4, fill_value=-1)',
    'np.intersect1d_size_idx': 'jnp.intersect1d(jnp.array([5, 1, 3, 3, 7]), jnp.array([3, 7, 7, 8, 1]), return_indices=True, size=4)',
    'np.intersect1d_size_none': 'jnp.intersect1d(jnp.array([5, 1]), jnp.array([3, 7]), size=2)',
    'np.frexp': 'jnp.frexp(jnp.array([0., 1., 3., -10., 1e-30, jnp.inf, -jnp.inf, jnp.nan, 0.1, 2.5e38]))',
    'np.frexp_int': 'jnp.frexp(jnp.array([1, 4, -6]))',
    'np.frexp_f16': 'jnp.frexp(jnp.array([1e-6, 3., 60000.], jnp.float16))',
    'np.frexp_complex': 'jnp.frexp(jnp.array([1j]))',
    'np.gradient': 'jnp.gradient(x ** 2)',
    'np.gradient_spacing': 'jnp.gradient(x ** 3, 0.5)',
    'np.gradient_coords': 'jnp.gradient(jnp.array([1., 4., 9., 25.]), jnp.array([0., 1., 1.5, 3.5]))',
    'np.gradient_2d': 'jnp.gradient(i * i)',
    'np.gradient_axis': 'jnp.gradient(jnp.arange(12.).reshape(3, 4) ** 2, 2., axis=-1)',
    'np.gradient_small': 'jnp.gradient(jnp.ones((1, 3)))',
    'np.gradient_edge': 'jnp.gradient(x, edge_order=1)',
    'np.gradient_nargs': 'jnp.gradient(i * 1., 1., 2., 3.)',
    'np.apply_along_axis': 'jnp.apply_along_axis(jnp.cumsum, 1, i)',
    'np.apply_along_axis0': 'jnp.apply_along_axis(lambda r, k: (r * k).sum(), 0, jnp.arange(24.).reshape(2, 3, 4), 2.)',
    'np.apply_along_axis_mat': 'jnp.apply_along_axis(lambda r: jnp.outer(r, r), -1, i)',
    'np.mgrid': 'jnp.mgrid[0:2, 0:3]',
    'np.mgrid_1d': 'jnp.mgrid[1:7:2]',
    'np.mgrid_complex': 'jnp.mgrid[0:1:3j, 0:2]',
    'np.mgrid_float': 'jnp.mgrid[0:1:0.25]',
    'np.ogrid': 'jnp.ogrid[0:2, 1:4]',
    'np.ogrid_mixed': 'jnp.ogrid[0:2, 0:1:4j]',
    'np.r_': 'jnp.r_[1:4, jnp.array([7, 8]), 9]',
    'np.r_float': 'jnp.r_[jnp.array([1., 2.]), 0, -1:1:3j]',
    'np.r_2d': 'jnp.r_["0,2", jnp.array([1, 2]), jnp.array([3, 4])]',
    'np.r_axis1': 'jnp.r_["1,2,0", jnp.array([1, 2]), jnp.array([3, 4])]',
    'np.r_row': 'jnp.r_["r", 1:3, 5]',
    'np.r_col': 'jnp.r_["c", jnp.array([1, 2])]',
    'np.r_bad': 'jnp.r_["x", 1]',
    'np.c_': 'jnp.c_[jnp.arange(3), jnp.arange(3) * 2.]',
    'np.c_2d': 'jnp.c_[i, jnp.zeros((2, 1), jnp.int32)]',
    'np.c_scalar': 'jnp.c_[jnp.array([[1, 2]]), 0, 7]',
    'np.jit.assorted2': 'jax.jit(lambda a, b: (jnp.insert(a, 1, b), jnp.delete(a, 0), jnp.delete(a, jnp.array([0, 2]), assume_unique_indices=True), '
                        'jnp.block([[a[:2]], [b[:2]]]), jnp.piecewise(a, [a < 2], [lambda t: -t, lambda t: t * 3]), jnp.nanmedian(a), '
                        'jnp.nanquantile(a, 0.3), jnp.nanpercentile(b, 50), jnp.frexp(a), jnp.gradient(a * b), '
                        'jnp.apply_along_axis(jnp.sum, 0, a.reshape(2, 2)), jnp.intersect1d(a, b, size=3), jnp.r_[a, b], jnp.c_[a, b]))'
                        '(jnp.array([0., 1., 2., jnp.nan]), jnp.array([3., 2., 1., 0.]))',
    'np.grad.assorted2': 'jax.grad(lambda a: jnp.sum(jnp.insert(a, 1, a[0] * 2) ** 2) + jnp.sum(jnp.delete(a, 1) ** 3) + '
                         'jnp.sum(jnp.block([a, a]) * 2) + jnp.sum(jnp.piecewise(a, [a > 1.5], [jnp.sin, jnp.cos])) + '
                         'jnp.nanmedian(a) + jnp.nanquantile(a, 0.3) + jnp.nanpercentile(a, 80) + '
                         'jnp.sum(jnp.gradient(a ** 2)) + jnp.sum(jnp.apply_along_axis(lambda r: r ** 2, 0, a)) + '
                         'jnp.sum(jnp.r_[a, a * 3]) + jnp.sum(jnp.c_[a, a] ** 2))(jnp.array([1., 2., 4., 3.]))',
    'np.grad.frexp': 'jax.vmap(jax.grad(lambda t: jnp.frexp(t)[0]))(jnp.array([1., 3., 0.1]))',
    'np.vmap.assorted2': 'jax.vmap(lambda r: (jnp.insert(r, 1, 0), jnp.delete(r, 1), jnp.nanmedian(r), jnp.frexp(r), '
                         'jnp.gradient(r), jnp.intersect1d(r, jnp.array([1., 5.]), size=2), jnp.piecewise(r, [r > 2], [1., 0.]), '
                         'jnp.block([r, r]), jnp.apply_along_axis(jnp.sum, 0, r), jnp.r_[r, 0.]))(i.astype(jnp.float32))',
    'np.vmap.delete_unique': 'jax.vmap(lambda r, k: jnp.delete(r, k, assume_unique_indices=True))(i, jnp.array([[0], [2]]))',
    'np.vmap.insert_idx': 'jax.vmap(lambda r, k: jnp.insert(r, k, -1))(i, jnp.array([0, 3]))',
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
