"""check_grads: derivatives against finite differences, in both modes, to any order."""
import numpy as np

from tinyjax import dtypes, tree_util
from tinyjax.transforms.grad import jvp, vjp

_DEFAULT_EPS = {np.dtype(np.float64): 1e-4, np.dtype(np.float32): 1e-2,
                np.dtype(np.float16): 1e-1, np.dtype(np.complex128): 1e-4,
                np.dtype(np.complex64): 1e-2}
_DEFAULT_TOL = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 2e-2,
                np.dtype(np.float16): 1e-1, np.dtype(np.complex128): 1e-5,
                np.dtype(np.complex64): 2e-2}


def _np(x):
    dt = np.asarray(x).dtype
    return np.asarray(x, dtype=dt if dt in (np.float64, np.complex128, np.complex64)
                      else np.result_type(dt, np.float32))


def _dtype(x):
    """The dtype x computes in: canonical, so a Python float or float64 array is float32
    unless x64 is on (as JAX's check_grads reads it)."""
    return dtypes.canonicalize(np.asarray(x).dtype)


def _tol(leaves, atol, rtol):
    dt = max((_dtype(x) for x in leaves), key=lambda d: d.itemsize, default=np.dtype(np.float64))
    default = _DEFAULT_TOL.get(np.dtype(dt), 1e-2)
    return (default if atol is None else atol), (default if rtol is None else rtol)


def _random_like(x, rng):
    a = np.asarray(x)
    out = rng.standard_normal(a.shape)
    if np.iscomplexobj(a):
        out = out + 1j * rng.standard_normal(a.shape)
    return out.astype(a.dtype)


def _add(xs, ts, scale):
    return tree_util.tree_map(lambda x, t: (np.asarray(x) + scale * np.asarray(t)).astype(np.asarray(x).dtype), xs, ts)


def _vdot(a, b):
    """Re(sum(a * b)), unconjugated: the pairing for which JAX's complex transposes are
    adjoints (for real arrays, the dot product)."""
    la, lb = tree_util.tree_leaves(a), tree_util.tree_leaves(b)
    return sum(float(np.real(np.sum(_np(x).ravel() * _np(y).ravel()))) for x, y in zip(la, lb))


def _assert_close(a, b, atol, rtol, what):
    for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b)):
        x, y = _np(x), _np(y)
        if not np.allclose(x, y, atol=atol, rtol=rtol, equal_nan=True):
            raise AssertionError(f'{what}: mismatch\n got      {x}\n expected {y}\n'
                                 f' (atol={atol}, rtol={rtol})')


def check_jvp(f, args, atol=None, rtol=None, eps=None, rng=None):
    rng = rng or np.random.default_rng(0)
    leaves = tree_util.tree_leaves(args)
    eps = eps or _DEFAULT_EPS.get(_dtype(leaves[0]), 1e-3)
    atol, rtol = _tol(leaves, atol, rtol)
    tangents = tree_util.tree_map(lambda x: _random_like(x, rng), tuple(args))
    out, tout = jvp(f, tuple(args), tangents)
    plus = f(*_add(tuple(args), tangents, eps / 2))
    minus = f(*_add(tuple(args), tangents, -eps / 2))
    fd = tree_util.tree_map(lambda p, m: (_np(p) - _np(m)) / eps, plus, minus)
    _assert_close(tout, fd, atol, rtol, 'JVP vs finite differences')


def check_vjp(f, args, atol=None, rtol=None, eps=None, rng=None):
    rng = rng or np.random.default_rng(1)
    leaves = tree_util.tree_leaves(args)
    atol, rtol = _tol(leaves, atol, rtol)
    out, f_vjp = vjp(f, *args)
    tangents = tree_util.tree_map(lambda x: _random_like(x, rng), tuple(args))
    _, tout = jvp(f, tuple(args), tangents)
    ct = tree_util.tree_map(lambda o: _random_like(o, rng), out)
    cts_in = f_vjp(ct)
    # <ct, J t> must equal <J^T ct, t>.
    lhs, rhs = _vdot(ct, tout), _vdot(cts_in, tangents)
    if not np.isclose(lhs, rhs, atol=atol * 10, rtol=rtol * 10):
        raise AssertionError(f'VJP does not transpose the JVP: <ct, Jt> = {lhs}, <J^T ct, t> = {rhs}')
    check_jvp(f, args, atol, rtol, eps, rng)


def check_grads(f, args, order, modes=('fwd', 'rev'), atol=None, rtol=None, eps=None):
    """Check f's derivatives up to `order` against finite differences ('fwd' and/or 'rev')."""
    args = tuple(args)
    for x in tree_util.tree_leaves(args):
        if not dtypes.is_inexact(np.asarray(x).dtype):
            raise TypeError(f'check_grads needs floating-point arguments, got {np.asarray(x).dtype}')

    def check(f, args, order):
        if 'fwd' in modes:
            check_jvp(f, args, atol, rtol, eps)
            if order > 1:
                rng = np.random.default_rng(2)
                ts = tree_util.tree_map(lambda x: _random_like(x, rng), args)
                check(lambda *a: jvp(f, a, ts)[1], args, order - 1)
        if 'rev' in modes:
            check_vjp(f, args, atol, rtol, eps)
            if order > 1:
                out = f(*args)
                rng = np.random.default_rng(3)
                ct = tree_util.tree_map(lambda o: _random_like(o, rng), out)
                check(lambda *a: vjp(f, *a)[1](ct), args, order - 1)
    check(f, args, order)
