"""Derivatives of the complex decompositions as JAX 0.10.2 gives them (CPU, x64): for
each case, a real function of a complex matrix, its value, grad (JAX's convention:
df/dRe - i df/dIm) and the JVP along a fixed complex direction; plus eigenvalues,
singular values, LU pivots and a few complex JVP/VJP outputs. Functions of eigen- and
singular vectors are gauge invariant (|v|^2, projectors), so any valid phase choice
gives the same numbers. tests/test_linalg_complex.py runs the same cases on tinyjax.
Regenerate with
/path/to/jax-venv/bin/python tests/data/jax_complex_linalg.py > tests/data/jax_complex_linalg.json"""
import json

import numpy as np


def inputs():
    rng = np.random.default_rng(15)

    def cm(*shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)
    m = dict(A=cm(3, 3), B=cm(3, 2), T=cm(4, 3), W=cm(2, 4))
    m['W3'] = rng.normal(size=(3, 3))
    m['W32'] = rng.normal(size=(3, 2))
    m['DA'], m['DT'], m['C4'] = cm(3, 3), cm(4, 3), cm(4, 4)
    m['D4'] = np.ones((4, 4), complex)
    m['DW'] = np.ones((2, 4), complex)
    return m


def cases(jnp, jsl):
    """name -> (f, input name, direction name): f maps a complex matrix to a real scalar."""
    la = jnp.linalg
    m = inputs()
    W3, W32, B = m['W3'], m['W32'], m['B']

    def herm(x):
        return x + x.conj().T

    def vecs(x):
        return la.eigh(herm(x))[1]

    def svd(x):
        return la.svd(x, full_matrices=False)

    def spd(x):
        return x @ x.conj().T + jnp.eye(3)

    def parts(y, w_re, w_im):
        return jnp.sum(jnp.real(y) * w_re + jnp.imag(y) * w_im)

    def sq(y, w):
        return jnp.sum(jnp.abs(y) ** 2 * w)

    ramp = np.arange(1., 4.)
    return {
        'eigvalsh': (lambda x: jnp.sum(la.eigvalsh(herm(x)) * ramp), 'A', 'DA'),
        'eigh_vectors': (lambda x: sq(vecs(x), W3), 'A', 'DA'),
        'eigh_projector': (lambda x: parts(vecs(x)[:, :1] @ vecs(x)[:, :1].conj().T, W3, W3.T),
                           'A', 'DA'),
        'qr_square': (lambda x: parts(la.qr(x)[0], W3, 0) + parts(la.qr(x)[1], 0, W3.T), 'A', 'DA'),
        'qr_tall': (lambda x: parts(la.qr(x)[0], 0, W3.sum()) + parts(la.qr(x)[1], W3, 0), 'T', 'DT'),
        'svdvals': (lambda x: jnp.sum(la.svd(x, compute_uv=False) * ramp), 'A', 'DA'),
        'svdvals_tall': (lambda x: jnp.sum(la.svd(x, compute_uv=False) ** 2 * ramp), 'T', 'DT'),
        'svd_vectors': (lambda x: sq(svd(x)[0], W3) + jnp.sum(jnp.abs(svd(x)[2]) ** 3 * W3.T),
                        'A', 'DA'),
        'svd_vectors_tall': (lambda x: sq(svd(x)[0], W3.sum(0)) + sq(svd(x)[2], W3), 'T', 'DT'),
        'svd_vectors_wide': (lambda x: sq(svd(x)[2], W3[0].sum()), 'W', 'DW'),
        'lu_factor': (lambda x: parts(jsl.lu_factor(x)[0], W3, W3.T), 'A', 'DA'),
        'lu_factor4': (lambda x: sq(jsl.lu_factor(x)[0], 1.0), 'C4', 'D4'),
        'det': (lambda x: jnp.real(la.det(x)) + 2 * jnp.imag(la.det(x)), 'A', 'DA'),
        'det4': (lambda x: jnp.real(la.det(x)) - jnp.imag(la.det(x)), 'C4', 'D4'),
        'slogdet': (lambda x: la.slogdet(x)[1] + jnp.real(la.slogdet(x)[0]) * 0.5
                    + jnp.imag(la.slogdet(x)[0]), 'A', 'DA'),
        'inv': (lambda x: parts(la.inv(x), W3, W3.T), 'A', 'DA'),
        'solve': (lambda x: sq(la.solve(x, B), W32), 'A', 'DA'),
        'solve_rhs': (lambda b: sq(la.solve(m['A'], b), W32), 'B', None),
        'pinv_tall': (lambda x: parts(la.pinv(x), W3.sum(0)[:, None], 1.0), 'T', 'DT'),
        'norm_2_nuc': (lambda x: la.norm(x, 2) + la.norm(x, 'nuc') * 0.5, 'A', 'DA'),
        'cholesky': (lambda x: parts(la.cholesky(spd(x)), W3, W3.T), 'A', 'DA'),
        'lu_solve_trans2': (lambda x: sq(jsl.lu_solve(jsl.lu_factor(x), B, trans=2), W32), 'A', 'DA'),
        'lu_solve_trans1': (lambda x: parts(jsl.lu_solve(jsl.lu_factor(x), B, trans=1), W32, 0),
                            'A', 'DA'),
        'cho_solve_lower': (lambda x: sq(jsl.cho_solve(jsl.cho_factor(spd(x), lower=True), B), W32),
                            'A', 'DA'),
        'cho_solve_upper': (lambda x: parts(jsl.cho_solve(jsl.cho_factor(spd(x), lower=False), B),
                                            W32, 0), 'A', 'DA'),
        'solve_triangular_C': (lambda x: sq(jsl.solve_triangular(x, B, trans='C', lower=True), W32),
                               'A', 'DA'),
    }


def run(jax, jnp, jsl):
    """The recorded numbers, computed with whichever jax-like modules are passed."""
    m = inputs()
    out = {}
    for name, (f, arg, direction) in cases(jnp, jsl).items():
        x = m[arg]
        g = jax.grad(f)(x)
        t = jax.jvp(f, (x,), (m[direction] if direction else np.ones_like(x),))[1]
        out[name] = {'value': float(f(x)), 'grad_re': np.real(g).tolist(),
                     'grad_im': np.imag(g).tolist(), 'jvp': float(t)}
    A, T, C4 = m['A'], m['T'], m['C4']
    H = A + A.conj().T + 4 * np.eye(3)
    tw = jax.jvp(lambda x: jnp.linalg.eigvalsh(x + x.conj().T), (A,), (m['DA'],))[1]
    ts = jax.jvp(lambda x: jnp.linalg.svd(x, compute_uv=False), (T,), (m['DT'],))[1]
    ct_det = jax.vjp(jnp.linalg.det, A)[1](1.0 + 2.0j)[0]
    ct_inv = jax.vjp(jnp.linalg.inv, A)[1](m['W3'] + 1j * m['W3'].T)[0]
    sign = jnp.linalg.slogdet(A)[0]
    out['raw'] = {
        'eigvalsh': np.asarray(jnp.linalg.eigvalsh(H)).tolist(),
        'svdvals': np.asarray(jnp.linalg.svd(A, compute_uv=False)).tolist(),
        'slogdet_sign': [float(np.real(sign)), float(np.imag(sign))],
        'lu_pivots': np.asarray(jsl.lu_factor(C4)[1]).tolist(),
        'eigvalsh_jvp': np.asarray(tw).tolist(), 'svdvals_jvp': np.asarray(ts).tolist(),
        'det_vjp_re': np.real(ct_det).tolist(), 'det_vjp_im': np.imag(ct_det).tolist(),
        'inv_vjp_re': np.real(ct_inv).tolist(), 'inv_vjp_im': np.imag(ct_inv).tolist(),
    }
    return out


def main():
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl
    jax.config.update('jax_enable_x64', True)
    print(json.dumps(run(jax, jnp, jsl), indent=0))


if __name__ == '__main__':
    main()
