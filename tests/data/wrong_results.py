"""Expressions where tinyjax gave a different answer from JAX (issue 15, "wrong results"),
evaluated by both; tests/test_wrong_results_recorded.py compares tinyjax with what JAX
0.10.2 gave, recorded in wrong_results.json: derivatives at ties and kinks, complex
autodiff, Python lists refused by jnp functions (error class and message), Python control
flow inside custom_jvp/custom_vjp functions under grad, and random.uniform bit for bit.

Name prefixes: 'exact:' must match bit for bit; 'x64:' runs with jax_enable_x64; 'err:'
records the error class and message.
Regenerate with: /path/to/jax-venv/bin/python tests/data/wrong_results.py
"""
import json
import pathlib
import sys

import numpy as np

SETUP = '''
lax, nn = jax.lax, jax.nn
g = jax.grad
def gall(f, *args):
    return jax.grad(f, argnums=tuple(range(len(args))))(*args)
z = jnp.array([1 + 2j, 3 - 1j, -0.5 + 0.25j], dtype=jnp.complex64)
c1 = jnp.complex64(1 + 2j)
herm = jnp.array([[2, 1j], [-1j, 2]], dtype=jnp.complex64)
key = jax.random.PRNGKey(0)

@jax.custom_jvp
def branchy(x):
    if x > 0:
        return x * 2.0
    return -x

@branchy.defjvp
def branchy_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    if x > 0:
        return branchy(x), 3.0 * t
    return branchy(x), -5.0 * t

@jax.custom_vjp
def clipped(x):
    return x if x < 1 else x * 0.5

def clipped_fwd(x):
    if x < 1:
        return x, 1.0
    return x * 0.5, 0.5

def clipped_bwd(slope, ct):
    return (ct * slope * 10,)

clipped.defvjp(clipped_fwd, clipped_bwd)
'''

_TIES = {
    'logaddexp_tie': 'gall(jnp.logaddexp, 1., 1.)',
    'logaddexp_neg_inf': 'gall(jnp.logaddexp, -jnp.inf, -jnp.inf)',
    'logaddexp_inf': 'gall(jnp.logaddexp, jnp.inf, jnp.inf)',
    'logaddexp_x_inf': 'gall(jnp.logaddexp, 1., -jnp.inf)',
    'logaddexp2_tie': 'gall(jnp.logaddexp2, 1., 1.)',
    'logaddexp2_inf': 'gall(jnp.logaddexp2, jnp.inf, 1.)',
    'logaddexp_hess': 'jax.hessian(lambda v: jnp.logaddexp(v[0], v[1]))(jnp.array([1., 1.]))',
    'logaddexp_jit_grad': 'jax.jit(jax.grad(jnp.logaddexp, (0, 1)))(2., 2.)',
    'logaddexp_bcast': 'gall(lambda x, y: jnp.logaddexp(x, y).sum(), jnp.array([0., 1., 2.]), 1.)',
    'logaddexp_vmap_grad': 'jax.vmap(jax.grad(jnp.logaddexp))(jnp.array([0., 1.]), jnp.array([0., 3.]))',
    'logaddexp_jvp': 'jax.jvp(jnp.logaddexp, (1., 1.), (1., 2.))',
    'logaddexp_values': 'jnp.logaddexp(jnp.array([1., -jnp.inf, jnp.inf, jnp.nan, 3.]), jnp.array([1., -jnp.inf, jnp.inf, 0., -2.]))',
    'softplus0': 'g(nn.softplus)(0.)',
    'softplus_m3': 'g(nn.softplus)(-3.)',
    'softplus_2nd': 'g(g(nn.softplus))(0.)',
    'log_sigmoid0': 'g(nn.log_sigmoid)(0.)',
    'maximum_tie': 'gall(jnp.maximum, 1., 1.)',
    'minimum_tie': 'gall(jnp.minimum, 1., 1.)',
    'lax_max_tie': 'gall(lax.max, 1., 1.)',
    'max_2nd': 'g(g(lambda x: jnp.maximum(x, 1.)))(1.)',
    'max_bcast': 'gall(lambda x, y: jnp.maximum(x, y).sum(), jnp.array([1., 2., 3.]), 2.)',
    'fmax_tie': 'gall(jnp.fmax, 1., 1.)',
    'fmin_tie': 'gall(jnp.fmin, 1., 1.)',
    'fmax_nan': 'gall(jnp.fmax, jnp.nan, 1.)',
    'abs0': 'g(jnp.abs)(0.)',
    'abs_neg0': 'g(jnp.abs)(-0.)',
    'clip_lo': 'g(lambda x: jnp.clip(x, 0., 1.))(0.)',
    'clip_hi': 'g(lambda x: jnp.clip(x, 0., 1.))(1.)',
    'clip_bounds_lo': 'gall(lambda x, a, b: jnp.clip(x, a, b), 0., 0., 1.)',
    'clip_bounds_hi': 'gall(lambda x, a, b: jnp.clip(x, a, b), 1., 0., 1.)',
    'lax_clamp_lo': 'gall(lambda a, x, b: lax.clamp(a, x, b), 0., 0., 1.)',
    'lax_clamp_hi': 'gall(lambda a, x, b: lax.clamp(a, x, b), 0., 1., 1.)',
    'lax_clamp_in': 'gall(lambda a, x, b: lax.clamp(a, x, b), 0., .5, 1.)',
    'lax_clamp_out': 'gall(lambda a, x, b: lax.clamp(a, x, b), 0., 2., 1.)',
    'lax_clamp_arrays': 'gall(lambda a, x, b: lax.clamp(a, x, b).sum(), jnp.array([0., 1., 2.]), jnp.array([0., 1.5, 3.]), jnp.array([1., 1.5, 2.5]))',
    'relu0': 'g(nn.relu)(0.)',
    'relu_2nd': 'g(g(nn.relu))(0.)',
    'relu6_0': 'g(nn.relu6)(0.)',
    'relu6_6': 'g(nn.relu6)(6.)',
    'leaky_relu0': 'g(nn.leaky_relu)(0.)',
    'hard_tanh1': 'g(nn.hard_tanh)(1.)',
    'hard_tanh_m1': 'g(nn.hard_tanh)(-1.)',
    'hard_sigmoid_m3': 'g(nn.hard_sigmoid)(-3.)',
    'hard_sigmoid_3': 'g(nn.hard_sigmoid)(3.)',
    'hard_silu_m3': 'g(nn.hard_silu)(-3.)',
    'elu0': 'g(nn.elu)(0.)',
    'celu0': 'g(nn.celu)(0.)',
    'selu0': 'g(nn.selu)(0.)',
    'gelu0': 'g(nn.gelu)(0.)',
    'silu0': 'g(nn.silu)(0.)',
    'soft_sign0': 'g(nn.soft_sign)(0.)',
    'sign0': 'g(jnp.sign)(0.)',
    'sqrt0': 'g(jnp.sqrt)(0.)',
    'norm0': 'g(lambda x: jnp.linalg.norm(x))(jnp.zeros(3))',
    'norm_inf_tie': 'g(lambda x: jnp.linalg.norm(x, ord=jnp.inf))(jnp.array([1., -1., 0.5]))',
    'norm_1_0': 'g(lambda x: jnp.linalg.norm(x, ord=1))(jnp.array([1., 0., -2.]))',
    'max_red_tie': 'g(jnp.max)(jnp.array([1., 3., 3., 2.]))',
    'min_red_tie': 'g(jnp.min)(jnp.array([1., 1., 3., 2.]))',
    'max_axis_tie': 'g(lambda x: jnp.max(x, axis=1).sum())(jnp.array([[1., 3., 3.], [2., 2., 2.]]))',
    'amax_tie': 'g(jnp.amax)(jnp.array([2., 2.]))',
    'nanmax_tie': 'g(jnp.nanmax)(jnp.array([2., jnp.nan, 2.]))',
    'ptp_tie': 'g(jnp.ptp)(jnp.array([1., 3., 3., 1.]))',
    'logsumexp_tie': 'g(nn.logsumexp)(jnp.array([1., 1.]))',
    'logsumexp_inf': 'g(nn.logsumexp)(jnp.array([-jnp.inf, 1.]))',
    'logsumexp_allneg_inf': 'g(nn.logsumexp)(jnp.array([-jnp.inf, -jnp.inf]))',
    'jss_logsumexp_tie': 'g(jax.scipy.special.logsumexp)(jnp.array([2., 2., 1.]))',
    'softmax_tie': 'g(lambda x: nn.softmax(x)[0])(jnp.array([1., 1.]))',
    'log_softmax_tie': 'g(lambda x: nn.log_softmax(x)[0])(jnp.array([1., 1.]))',
    'sort_tie': 'g(lambda x: (jnp.sort(x) * jnp.arange(1., 4.)).sum())(jnp.array([2., 1., 2.]))',
    'sort_desc_tie': 'g(lambda x: (jnp.sort(x, descending=True) * jnp.arange(1., 4.)).sum())(jnp.array([2., 1., 2.]))',
    'argsort_take': 'g(lambda x: (x[jnp.argsort(x)] * jnp.arange(1., 4.)).sum())(jnp.array([2., 1., 2.]))',
    'median_tie': 'g(jnp.median)(jnp.array([1., 2., 2., 3.]))',
    'median_odd_tie': 'g(jnp.median)(jnp.array([2., 2., 2.]))',
    'quantile_tie': 'g(lambda x: jnp.quantile(x, 0.5))(jnp.array([3., 1., 3.]))',
    'percentile_tie': 'g(lambda x: jnp.percentile(x, 30.))(jnp.array([3., 1., 3., 1.]))',
    'top_k_tie': 'g(lambda x: (lax.top_k(x, 2)[0] * jnp.array([1., 2.])).sum())(jnp.array([2., 1., 2.]))',
    'cummax_tie': 'g(lambda x: (lax.cummax(x) * jnp.arange(1., 5.)).sum())(jnp.array([1., 3., 3., 2.]))',
    'cummin_tie': 'g(lambda x: (lax.cummin(x) * jnp.arange(1., 5.)).sum())(jnp.array([3., 1., 1., 2.]))',
    'cumlogsumexp_tie': 'g(lambda x: (lax.cumlogsumexp(x) * jnp.arange(1., 4.)).sum())(jnp.array([1., 1., 1.]))',
    'argmax_take': 'g(lambda x: x[jnp.argmax(x)])(jnp.array([1., 3., 3.]))',
    'take_along_argmax': 'g(lambda x: jnp.take_along_axis(x, jnp.argmax(x, 1, keepdims=True), 1).sum())(jnp.array([[1., 3., 3.], [2., 2., 1.]]))',
    'reduce_window_max': "g(lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (2,), (1,), 'VALID').sum())(jnp.array([1., 3., 3., 2.]))",
    'max_pool_tie': "g(lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (2, 2), (2, 2), 'VALID').sum())(jnp.ones((4, 4)))",
    'pow_0_2': 'gall(lambda x, y: x ** y, 0., 2.)',
    'pow_0_0': 'gall(lambda x, y: x ** y, 0., 0.)',
    'pow_0_half': 'gall(lambda x, y: x ** y, 0., 0.5)',
    'pow_0_1': 'gall(lambda x, y: x ** y, 0., 1.)',
    'pow_x_0': 'gall(lambda x, y: x ** y, 2., 0.)',
    'where_tie': 'g(lambda x: jnp.where(x > 0, x, 0.))(0.)',
    'heaviside0': 'gall(jnp.heaviside, 0., 0.5)',
    'round_half': 'g(jnp.round)(0.5)',
    'floor1': 'g(jnp.floor)(1.)',
    'remainder_tie': 'gall(jnp.remainder, 2., 1.)',
    'fmod_tie': 'gall(jnp.fmod, 2., 1.)',
    'hypot0': 'gall(jnp.hypot, 0., 0.)',
    'hypot_grad': 'gall(jnp.hypot, 3., 4.)',
    'hypot_inf': 'gall(jnp.hypot, jnp.inf, 4.)',
    'hypot_values': 'jnp.hypot(jnp.array([3., 0., 1e30, jnp.inf, -5.]), jnp.array([4., 0., 1e30, jnp.nan, 12.]))',
    'arctan2_0': 'gall(jnp.arctan2, 0., 1.)',
    'copysign0': 'gall(jnp.copysign, 0., 1.)',
    'sinc0': 'g(jnp.sinc)(0.)',
    'sinc0_2nd': 'g(g(jnp.sinc))(0.)',
    'sinc3': 'g(g(g(jnp.sinc)))(0.)',
    'sinc4': 'g(g(g(g(jnp.sinc))))(0.)',
    'sinc_grad_half': 'g(jnp.sinc)(0.5)',
    'glu': 'g(lambda x: nn.glu(x).sum())(jnp.array([0., 0.]))',
}

_COMPLEX = {
    'grad_abs2_parts': 'g(lambda z: jnp.real(z) ** 2 + jnp.imag(z) ** 2)(3 + 4j)',
    'value_and_grad_abs2': 'jax.value_and_grad(lambda z: jnp.abs(z) ** 2)(3 + 4j)',
    'grad_abs': 'g(lambda z: jnp.abs(z))(3 + 4j)',
    'grad_abs0': 'g(lambda z: jnp.abs(z))(jnp.complex64(0))',
    'vjp_imag': 'jax.vjp(jnp.imag, c1)[1](jnp.float32(1.))',
    'vjp_real': 'jax.vjp(jnp.real, c1)[1](jnp.float32(1.))',
    'vjp_mul_1j': 'jax.vjp(lambda z: z * 1j, c1)[1](jnp.complex64(1 - 1j))',
    'jvp_mul_1j': 'jax.jvp(lambda z: z * 1j, (c1,), (jnp.complex64(1 + 1j),))',
    'jvp_real': 'jax.jvp(jnp.real, (c1,), (jnp.complex64(3 + 1j),))',
    'jvp_imag': 'jax.jvp(jnp.imag, (c1,), (jnp.complex64(3 + 1j),))',
    'jvp_conj': 'jax.jvp(jnp.conj, (c1,), (jnp.complex64(3 + 1j),))',
    'vjp_conj': 'jax.vjp(jnp.conj, c1)[1](jnp.complex64(3 + 1j))',
    'vjp_complex': 'jax.vjp(lax.complex, 2., 3.)[1](jnp.complex64(1 + 2j))',
    'vjp_vector_parts': 'jax.vjp(lambda z: jnp.stack([jnp.real(z), jnp.imag(z), jnp.abs(z)]), z)[1](jnp.arange(9.).reshape(3, 3))',
    'grad_real_of_exp_1j': 'g(lambda x: jnp.real(jnp.exp(1j * x)))(0.7)',
    'grad_abs_of_real_times_complex': 'g(lambda x: jnp.abs(x * (1 + 1j)) ** 2)(2.)',
    'grad_z_conj_z': 'g(lambda z: jnp.real(jnp.sum(z * jnp.conj(z))))(z)',
    'grad_angle': 'g(jnp.angle)(1 + 1j)',
    'grad_real_log': 'g(lambda z: jnp.real(jnp.log(z)))(1 + 1j)',
    'grad_imag_sin_cos': 'g(lambda z: jnp.imag(jnp.sin(z) * jnp.cos(z)))(0.3 + 0.2j)',
    'grad_real_sqrt_div': 'g(lambda z: jnp.real(jnp.sqrt(z) / (z + 1)))(0.3 + 0.2j)',
    'grad_real_cube_tanh': 'g(lambda z: jnp.real(z ** 3 + jnp.tanh(z)))(0.3 + 0.2j)',
    'grad_real_dot': 'g(lambda z: jnp.real(jnp.dot(z, z)))(z)',
    'grad_real_vdot': 'g(lambda z: jnp.real(jnp.vdot(z, 2 * z + 1)))(z)',
    'grad_real_pow': 'g(lambda z: jnp.real(jnp.sum(z ** 2.5)))(z)',
    'grad_real_exp2_log1p_expm1': 'g(lambda z: jnp.real(jnp.sum(jnp.exp2(z) - jnp.log1p(z) + jnp.expm1(z))))(z)',
    'holomorphic_grad': 'jax.grad(lambda z: z * z, holomorphic=True)(1. + 2j)',
    'holomorphic_jacfwd': 'jax.jacfwd(lambda z: z * z, holomorphic=True)(jnp.array([1 + 1j, 2j]))',
    'holomorphic_jacrev': 'jax.jacrev(lambda z: jnp.sin(z) * z, holomorphic=True)(jnp.array([1 + 1j, 2j]))',
    'holomorphic_hessian': 'jax.hessian(lambda z: z * z * z, holomorphic=True)(1. + 1j)',
    'jacrev_abs': 'jax.jacrev(lambda z: jnp.abs(z))(jnp.array([3 + 4j, 2j]))',
    'jacfwd_real_to_complex': 'jax.jacfwd(lambda x: x * (1 + 2j))(jnp.array([1., 2.]))',
    'jacrev_real_through_complex': 'jax.jacrev(lambda x: jnp.real(x * (1 + 2j)))(jnp.array([1., 2.]))',
    'allow_int': 'jax.grad(lambda x, y: x * y, argnums=1, allow_int=True)(3, 2.)',
    'real_imag_values': '(jnp.real(z), jnp.imag(z), jnp.conj(z), jnp.abs(z), jnp.angle(z), z.real, z.imag, jnp.imag(2.), jnp.real(3))',
    'complex_var_std_isinf_log2': '(jnp.var(z), jnp.std(z, ddof=1), jnp.isinf(jnp.array([1 + 1j, jnp.inf + 0j, 1j * jnp.inf])), jnp.log2(jnp.complex64(0)), jnp.log10(z))',
    'complex_norms': '(jnp.linalg.norm(z), jnp.linalg.norm(z, 1), jnp.linalg.norm(z, jnp.inf), jnp.linalg.norm(herm, "fro"), jnp.linalg.norm(herm, 1), jnp.linalg.vector_norm(z))',
    'complex_norm_grad': 'g(lambda z: jnp.linalg.norm(z))(z)',
    'complex_var_grad': 'g(jnp.var)(z)',
    'cholesky_complex': 'jnp.linalg.cholesky(herm)',
    'cholesky_complex_upper': 'jnp.linalg.cholesky(herm, upper=True)',
    'cholesky_complex_grad': 'g(lambda a: jnp.real(jnp.sum(jnp.linalg.cholesky(a) * jnp.array([[1., 0.], [2 + 1j, 3 - 1j]]))))(herm)',
    'cholesky_complex_jvp': 'jax.jvp(jnp.linalg.cholesky, (herm,), (jnp.array([[1, 0.5j], [-0.5j, 1]], dtype=jnp.complex64),))',
    'err:grad_complex_output': 'jax.grad(lambda z: z * z)(1 + 1j)',
    'err:grad_holomorphic_real_input': 'jax.grad(lambda z: z * z, holomorphic=True)(1.)',
    'err:grad_holomorphic_real_output': 'jax.grad(lambda z: jnp.abs(z), holomorphic=True)(1. + 1j)',
    'err:grad_int_output': 'jax.grad(lambda x: x * 2, allow_int=True)(3)',
    'err:jacfwd_complex_input': 'jax.jacfwd(lambda z: z * z)(1 + 1j)',
    'err:jacrev_complex_output': 'jax.jacrev(lambda z: z * z)(1 + 1j)',
    'err:jacfwd_holomorphic_real': 'jax.jacfwd(lambda z: z * z, holomorphic=True)(1.)',
    'err:jacrev_holomorphic_real': 'jax.jacrev(lambda z: z * z, holomorphic=True)(1.)',
}

_LISTS = {
    'err:sum_list': 'jnp.sum([1, 2, 3])',
    'err:mean_tuple': 'jnp.mean((1., 2.))',
    'err:max_list': 'jnp.max([1, 2])',
    'err:add_second': 'jnp.add(jnp.ones(2), [1., 2.])',
    'err:exp_list': 'jnp.exp([0., 1.])',
    'err:where_list': 'jnp.where([True, False], 1, 2)',
    'err:reshape_list': 'jnp.reshape([1, 2], (2, 1))',
    'err:full_fill_list': 'jnp.full(2, [1., 2.])',
    'err:take_indices_list': 'jnp.take(jnp.arange(3.), [0, 1])',
    'err:cumsum_list': 'jnp.cumsum([1, 2])',
    'err:matmul_list': 'jnp.matmul([[1.]], jnp.ones((1, 1)))',
    'err:quantile_q_list': 'jnp.quantile(jnp.arange(4.), [0.1, 0.5])',
    'lists_allowed': '(jnp.array([1, 2]), jnp.asarray([1., 2.]), jnp.reshape(jnp.arange(4), [2, 2]), '
                     'jnp.full([2], 3.), jnp.tile(jnp.arange(2), [2]), jnp.transpose(jnp.ones((1, 2)), [1, 0]), '
                     'jnp.concatenate([jnp.ones(1), jnp.zeros(1)]), jnp.stack([jnp.ones(1), jnp.zeros(1)]), '
                     'jnp.zeros([2]), jnp.sum(jnp.arange(3), axis=[0]))',
}

_CUSTOM = {
    'custom_jvp_if_pos': 'g(branchy)(1.5)',
    'custom_jvp_if_neg': 'g(branchy)(-1.5)',
    'custom_jvp_if_value': '(branchy(1.5), branchy(-1.5))',
    'custom_jvp_if_jvp': 'jax.jvp(branchy, (jnp.float32(2.),), (jnp.float32(1.),))',
    'custom_jvp_if_inside': 'g(lambda x: branchy(x * x - 1.) * 2.)(2.)',
    'custom_jvp_if_2nd': 'g(g(lambda x: branchy(x) * x))(1.5)',
    'custom_vjp_if_small': 'g(clipped)(0.5)',
    'custom_vjp_if_big': 'g(clipped)(3.)',
}

_RANDOM = {
    'exact:uniform_shifted': "jax.random.uniform(key, (1024,), minval=-2, maxval=3)",
    'exact:uniform_shifted_jit': "jax.jit(lambda k: jax.random.uniform(k, (1024,), minval=-2, maxval=3))(key)",
    'exact:uniform_arrays': "jax.random.uniform(jax.random.PRNGKey(3), (4, 64), minval=np.linspace(-3, 1, 64, dtype=np.float32), maxval=np.float32(5.5))",
    'exact:uniform_narrow': "jax.random.uniform(jax.random.PRNGKey(7), (512,), minval=0.1, maxval=0.3)",
    'exact:uniform_vmap': "jax.vmap(lambda k: jax.random.uniform(k, (256,), minval=-1.5, maxval=2.25))(jax.random.split(key, 3))",
    'exact:x64:uniform_f64': "jax.random.uniform(key, (512,), jnp.float64, minval=-2, maxval=3)",
    'exact:x64:uniform_f64_jit': "jax.jit(lambda k: jax.random.uniform(k, (512,), jnp.float64, minval=-7.25, maxval=0.5))(key)",
}

CASES = {**_TIES, **_COMPLEX, **_LISTS, **_CUSTOM, **_RANDOM}


def _leaf(a):
    a = np.asarray(a)
    out = {'dtype': a.dtype.name, 'shape': list(a.shape)}
    if np.iscomplexobj(a):
        out['real'] = a.real.astype(np.float64).ravel().tolist()
        out['imag'] = a.imag.astype(np.float64).ravel().tolist()
    elif a.dtype.kind == 'V':           # float0
        out['values'] = []
    else:
        out['values'] = a.astype(np.float64).ravel().tolist()
    return out


def evaluate(jax, jnp, name, expr):
    env = {'jax': jax, 'jnp': jnp, 'np': np}
    exec(SETUP, env)
    x64 = 'x64:' in name
    if x64:
        jax.config.update('jax_enable_x64', True)
    try:
        out = eval(expr, env)
        leaves = jax.tree_util.tree_leaves(out)
        return {'leaves': [_leaf(a) for a in leaves]}
    except Exception as e:
        return {'error': type(e).__name__, 'message': str(e).split('\n')[0]}
    finally:
        if x64:
            jax.config.update('jax_enable_x64', False)


if __name__ == '__main__':
    import jax
    import jax.numpy as jnp
    import jax.scipy.special  # noqa: F401  (jax.scipy.special.logsumexp in a case)
    jax.config.update('jax_platforms', 'cpu')
    path = pathlib.Path(__file__).parent / 'wrong_results.json'
    out = {'jax_version': jax.__version__,
           'cases': {name: evaluate(jax, jnp, name, expr) for name, expr in CASES.items()}}
    path.write_text(json.dumps(out, indent=0, sort_keys=True))
    print(len(out['cases']), 'cases ->', path, file=sys.stderr)
