"""The `fma` primitive: x * y + z with one rounding, and its exact NumPy rule.

NumPy has no fused multiply-add, and XLA's compiled code contracts `a * b + c` into one
(`random.uniform` scales and shifts that way), so results that must match JAX bit for bit
need it. Emulated exactly, without a wider-than-double type:
- float32 and narrower: the product is exact in float64; the sum is rounded to odd in
  float64, and rounding that to the narrow type is then correctly rounded (round-to-odd
  with at least two extra bits makes the double rounding harmless).
- float64: Boldo and Melquiond's emulation: the exact product as a pair (Veltkamp/Dekker),
  an exact sum with z, the two low parts added rounding to odd, then one rounding to
  nearest.
Integers compute x * y + z with the usual wrap-around.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.ops import elementwise as ew


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_to_odd_sum(a, b):
    """a + b rounded to odd: when inexact, the neighbour of the exact sum whose last
    significand bit is 1."""
    s, err = _two_sum(a, b)
    bits = s.view(np.uint64)
    fix = (err != 0) & ((bits & np.uint64(1)) == 0) & np.isfinite(s)
    toward = np.where(err > 0, np.inf, -np.inf)
    return np.where(fix, np.nextafter(s, toward), s)


def _split(a):
    c = a * 134217729.0           # 2**27 + 1: Veltkamp's split of a 53-bit significand
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fma64(a, b, c):
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    v = _round_to_odd_sum(tl, ul)
    out = th + v
    # Infinities and NaNs (and products that overflow) make the pairs NaN: plain a*b+c.
    plain = a * b + c
    return np.where(np.isfinite(out), out, plain)


def fma_impl(xp, x, y, z):
    dt = x.dtype
    if not dtypes.is_float(dt):
        return x * y + z
    if xp is not np:
        if hasattr(xp, 'ElementwiseKernel'):
            return _fma_kernel(xp)(x, y, z)
        # A CuPy without runtime kernels (the emulated device): the host's exact rule.
        return xp.asarray(fma_impl(np, *(xp.asnumpy(v) for v in (x, y, z))))
    x, y, z = np.broadcast_arrays(x, y, z)
    with np.errstate(all='ignore'):
        if dt == np.float64:
            return _fma64(x, y, z)
        wide = [v.astype(np.float64) for v in (x, y, z)]
        prod = wide[0] * wide[1]                 # exact: at most 48 significant bits
        out = _round_to_odd_sum(prod, wide[2])
        return np.where(np.isfinite(out), out, prod + wide[2]).astype(dt)


_KERNELS = {}


def _fma_kernel(cupy):
    """The device's own fma, for eager calls on CuPy arrays."""
    if 'fma' not in _KERNELS:
        _KERNELS['fma'] = cupy.ElementwiseKernel('T x, T y, T z', 'T out',
                                                 'out = fma(x, y, z)', 'tj_fma')
    return _KERNELS['fma']


def _fma_tangent(x, y, z, out, tx, ty, tz):
    return ew._sum_tangents(None if tx is None else ew.mul(tx, y),
                            None if ty is None else ew.mul(x, ty), tz)


# One row of the elementwise family (fuses like the others; `fma` is C's and CUDA's own).
fma_p = ew._def('fma', 3, fma_impl, 'fma({0}, {1}, {2})', ew.FLOAT, _fma_tangent)
ew.PRIMS['fma'] = fma_p


def fma(x, y, z):
    """x * y + z rounded once; operands of one dtype and shape (0-d ones broadcast)."""
    return fma_p.bind(x, y, z)
