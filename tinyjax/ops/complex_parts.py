"""The primitives between complex numbers and their parts: real, imag, complex, conj.

Each is linear over the reals, so its JVP applies it to the tangent. Their transposes
follow JAX's convention for complex autodiff: a transpose is the adjoint for the real
bilinear pairing <a, b> = Re(sum(a * b)) (no conjugation), which is what makes
`grad(f)(z)` of a real-valued f equal df/dx - i df/dy (JAX gives 6-8j for
|z|**2 at 3+4j), and a holomorphic function's VJP its plain derivative.
- real:    t -> complex(t, 0)
- imag:    t -> complex(0, -t)
- complex: t -> (real(t), -imag(t))
- conj:    t -> conj(t)
They never fuse (the code generator has no complex type): each runs as its own step.
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def real_dtype(dtype):
    return _REAL_OF.get(np.dtype(dtype), np.dtype(dtype))


def complex_dtype(dtype):
    dt = np.dtype(dtype)
    return dt if dtypes.is_complex(dt) else _COMPLEX_OF[dt]


def _need_complex(op, aval):
    if not dtypes.is_complex(aval.dtype):
        raise TypeError(f'{op} takes a complex array (complex64 or complex128), got '
                        f'{aval.str_short()}; jnp.{op} accepts real arrays too.')


def _part_abstract(op):
    def rule(x):
        _need_complex(op, x)
        return ShapedArray(x.shape, real_dtype(x.dtype), x.weak_type)
    return rule


def _batch(p):
    def rule(args, dims, **params):
        args = common.align_elementwise_batch(args, dims)
        shape = max((common.aval_of(a).shape for a in args), key=len)
        args = [a if common.aval_of(a).shape == shape else
                common.broadcast_in_dim(a, shape, ()) for a in args]
        return p.bind(*args, **params), 0
    return rule


def _complex_abstract(x, y):
    common.check_same_dtypes('complex', [x, y])
    if x.dtype not in _COMPLEX_OF:
        raise TypeError(f'complex takes float32 or float64 parts, got {x.str_short()}; '
                        'convert them first (x.astype(jnp.float32))')
    if x.shape != y.shape:
        raise TypeError(f'complex requires parts of one shape, got {x.shape} and {y.shape}; '
                        'broadcast them first (jnp.broadcast_arrays)')
    return ShapedArray(x.shape, _COMPLEX_OF[x.dtype], x.weak_type and y.weak_type)


def _complex_impl(xp, x, y):
    out = xp.empty(x.shape, _COMPLEX_OF[x.dtype])
    out.real, out.imag = x, y
    return out


def _conj_abstract(x):
    _need_complex('conj', x)
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _linear_jvp(p):
    def rule(primals, tangents, **params):
        out = p.bind(*primals, **params)
        if all(t is None for t in tangents):
            return out, None
        ts = [t if t is not None else common.zeros_like(x) for t, x in zip(tangents, primals)]
        return out, p.bind(*ts, **params)
    return rule


def _zeros_of(ct):
    return common.zeros(common.aval_of(ct).strip_weak())


def _real_transpose(ct, x):
    return [None if ct is None else complex_(ct, _zeros_of(ct))]


def _imag_transpose(ct, x):
    # complex(0, -t), written as conj(complex(0, t)) so this module needs no neg.
    return [None if ct is None else conj(complex_(_zeros_of(ct), ct))]


def _complex_transpose(ct, x, y):
    if ct is None:
        return [None, None]
    return [real(ct), imag(conj(ct))]          # (Re t, -Im t)


def _conj_transpose(ct, x):
    return [None if ct is None else conj(ct)]


real_p = common.define('real', _part_abstract('real'), lambda xp, x: xp.real(x).copy(),
                       transpose=_real_transpose)
imag_p = common.define('imag', _part_abstract('imag'), lambda xp, x: xp.imag(x).copy(),
                       transpose=_imag_transpose)
complex_p = common.define('complex', _complex_abstract, _complex_impl,
                          transpose=_complex_transpose)
conj_p = common.define('conj', _conj_abstract, lambda xp, x: xp.conj(x),
                       transpose=_conj_transpose)
for _p in (real_p, imag_p, complex_p, conj_p):
    _p.jvp = _linear_jvp(_p)
    _p.batch = _batch(_p)


def real(x):
    return real_p.bind(x)


def imag(x):
    return imag_p.bind(x)


def complex_(x, y):
    return complex_p.bind(x, y)


def conj(x):
    return conj_p.bind(x)
