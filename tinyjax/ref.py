"""jax.ref: mutable arrays. A `Ref` holds an array; `ref[idx]` reads it and
`ref[idx] = value` writes it in place, the value keeping the ref's shape and dtype.

Refs are pytree leaves. Outside a trace a Ref simply holds a concrete array. Passed to a
jit-compiled function, each Ref argument is traced as a Ref holding the tracer of its
current value; what it holds when the function returns becomes an extra output of the
graph, written back into the caller's Ref after the call (transforms/jit.py). So the
program stays a pure function of arrays and every transform still applies, while the
user sees in-place updates, as with JAX's Refs (whose effects JAX's compiler discharges
the same way).
"""
import numpy as np

from tinyjax.core import trace as core_trace
from tinyjax.core.array import aval_of
from tinyjax.core.ir import ShapedArray
from tinyjax.ops import common, elementwise


class AbstractRef:
    """What jax.typeof gives for a Ref: the type of the array it holds."""

    def __init__(self, inner):
        self.inner_aval = inner
        self.shape, self.dtype, self.ndim = inner.shape, inner.dtype, inner.ndim

    def __eq__(self, other):
        return isinstance(other, AbstractRef) and self.inner_aval == other.inner_aval

    def __hash__(self):
        return hash(('ref', self.inner_aval))

    def __str__(self):
        return f'Ref{{{self.inner_aval}}}'

    __repr__ = __str__


class Ref:
    """A mutable array (jax.Ref): `r[...]` reads it whole, `r[i] = v` writes part of it."""
    __slots__ = ('_value', '__weakref__')

    def __init__(self, value):
        self._value = value

    aval = property(lambda self: AbstractRef(aval_of(self._value)))
    shape = property(lambda self: aval_of(self._value).shape)
    dtype = property(lambda self: aval_of(self._value).dtype)
    ndim = property(lambda self: aval_of(self._value).ndim)
    size = property(lambda self: aval_of(self._value).size)

    def __getitem__(self, idx):
        return get(self, idx)

    def __setitem__(self, idx, value):
        set(self, idx, value)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        inner = repr(self._value)
        return 'Ref' + inner[inner.index('('):] if '(' in inner else f'Ref({inner})'


def _whole(idx):
    return idx is None or idx is Ellipsis or idx == ()


def _check(ref):
    if not isinstance(ref, Ref):
        raise TypeError(f'expected a Ref (made by jax.ref.new_ref), got {type(ref).__name__}; '
                        'arrays are immutable: use x.at[idx].set(y) for an updated copy')


def new_ref(init_val, *, memory_space=None, kind=None):
    """A Ref holding init_val (an array or scalar; a ref's type is never weak)."""
    x = core_trace.as_array(init_val)
    return Ref(elementwise.convert(x, aval_of(x).dtype))


def empty_ref(ty, memory_space=None):
    """A Ref of type `ty` (a ShapeDtypeStruct or ShapedArray), holding zeros."""
    return Ref(common.zeros(ShapedArray(tuple(ty.shape), np.dtype(ty.dtype))))


def get(ref, idx=None):
    _check(ref)
    return ref._value if _whole(idx) else ref._value[idx]


def swap(ref, idx, value, _function_name='swap'):
    """Write value at idx and return what was there."""
    _check(ref)
    old = get(ref, idx)
    value = core_trace.as_array(value)
    want, got = aval_of(old), aval_of(value)
    if got.shape != want.shape:
        raise ValueError(
            f'Invalid shape for `{_function_name}`. Ref shape: {ref.shape}. Expected shape: '
            f'{want.shape}. Value shape: {got.shape}. Broadcast the value first '
            '(jnp.broadcast_to) if a fill is meant.')
    if got.dtype != want.dtype:
        raise ValueError(
            f'Invalid dtype for `{_function_name}`. Ref dtype: {want.dtype}. Value dtype: '
            f'{got.dtype}. Convert the value (.astype({want.dtype})) first.')
    ref._value = value if _whole(idx) else ref._value.at[idx].set(value)
    return old


def set(ref, idx, value):    # noqa: A001 (JAX's name)
    swap(ref, idx, value, 'set')


def addupdate(ref, idx, x):
    """ref[idx] += x."""
    old = get(ref, idx)
    swap(ref, idx, (old + x).astype(aval_of(old).dtype), 'addupdate')


def freeze(ref):
    """The array a Ref holds (the Ref should not be used afterwards)."""
    return get(ref)


def free_ref(ref):
    _check(ref)
    ref._value = None
