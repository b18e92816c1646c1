"""Random bits: the threefry2x32 counter-based hash, and the same-width bit cast that
turns random integers into floats. `tinyjax.random` builds everything else from these.

threefry2x32(k1, k2, x1, x2) -> (y1, y2)
    Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as
    1, 2, 3", SC'11), the hash JAX uses: key (k1, k2) and counter (x1, x2) give two
    uint32 words. All four operands are uint32; a 0-d operand broadcasts, the others
    share one shape, and both outputs have that shape. Random values are a pure
    function of (key, counter), so each element is independent of the others: the
    op is elementwise, vmaps by broadcasting and parallelises perfectly.

    Lowering (for the jit compiler): an `Elementwise` with one expression per output
    (the primitive has two results), a `statement` computing both, and a header:
        header 'tj_random.cuh',
        outputs ('tj_threefry2x32_y1({0}, {1}, {2}, {3})',
                 'tj_threefry2x32_y2({0}, {1}, {2}, {3})'),
        statement 'tj_threefry2x32({0}, {1}, {2}, {3}, &{4}, &{5});'
    Operands {0}..{3} are `unsigned int` expressions (k1, k2, x1, x2) at the element's
    index. A fused loop kernel can either evaluate the per-output expressions (each
    runs the 20 rounds; when both outputs are used, nvcc usually merges the two
    inlined calls, and they are cheap next to a memory access), or declare two
    `unsigned int` locals and emit the statement once, with {4}, {5} naming them.
    The code generator includes the header in modules that use it. The header needs only tj_common.cuh;
    it compiles as host C++ under tj_host_shim.h too (tests/test_random.py builds it
    and compares with NumPy).

bitcast_convert_type(x, new_dtype): reinterpret the bits of x as new_dtype, same
    width only (uint32 <-> float32, uint16 -> float16/bfloat16, uint64 <-> float64).
    Its lowering is Elementwise('tj_bitcast_to_{new_dtype}({0})', header='tj_random.cuh');
    the overloads
    in tj_random.cuh take the operand's compute type; a float16/bfloat16 target
    comes back as a float (the kernel's compute type for halves), so bitcasts from
    halves to integers are not lowered (random never produces them).
"""
import numpy as np

from tinyjax import dtypes
from tinyjax.compiler.lowering import Elementwise
from tinyjax.core.ir import ShapedArray
from tinyjax.interpreters.batching import broadcasting_rule
from tinyjax.ops import common

# Threefry-2x32 rotation constants: rounds alternate between the two rows, four
# rounds between key injections, five injections (20 rounds).
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
PARITY = 0x1BD11BDA   # Threefry's key-schedule parity constant


def _threefry_abstract(*avals):
    if len(avals) != 4:
        raise TypeError(f'threefry2x32 takes 4 operands (k1, k2, x1, x2), got {len(avals)}')
    bad = [a.str_short() for a in avals if a.dtype != dtypes.uint32]
    if bad:
        raise TypeError(f'Arguments to threefry2x32 must have uint32 type, got '
                        f'{", ".join(a.str_short() for a in avals)}')
    shapes = {a.shape for a in avals if a.shape != ()}
    if len(shapes) > 1:
        raise TypeError(f'threefry2x32 got incompatible shapes: '
                        f'{", ".join(str(a.shape) for a in avals)}; operands must share one '
                        'shape or be 0-d')
    shape = shapes.pop() if shapes else ()
    return [ShapedArray(shape, dtypes.uint32), ShapedArray(shape, dtypes.uint32)]


def threefry2x32_numpy(xp, k1, k2, x1, x2):
    """The hash on uint32 arrays (NumPy or CuPy): wrap-around adds, rotates, xors."""
    u32 = np.uint32
    shape = np.broadcast_shapes(*(np.shape(a) for a in (k1, k2, x1, x2)))
    k1, k2, x1, x2 = (xp.asarray(a, dtype=u32) for a in (k1, k2, x1, x2))
    ks = (k1, k2, k1 ^ k2 ^ u32(PARITY))
    # Work on 1-d arrays: NumPy scalars (from 0-d inputs) warn on wrap-around.
    a = xp.array(xp.broadcast_to(x1 + ks[0], shape), dtype=u32).reshape(-1)
    b = xp.array(xp.broadcast_to(x2 + ks[1], shape), dtype=u32).reshape(-1)
    flat = [xp.broadcast_to(k, shape).reshape(-1) for k in ks]
    for i in range(5):
        for r in ROTATIONS[i % 2]:
            a = a + b
            b = (b << u32(r)) | (b >> u32(32 - r))
            b = a ^ b
        a = a + flat[(i + 1) % 3]
        b = b + flat[(i + 2) % 3] + u32(i + 1)
    return a.reshape(shape), b.reshape(shape)


def _threefry_impl(xp, k1, k2, x1, x2):
    with np.errstate(over='ignore'):
        return list(threefry2x32_numpy(xp, k1, k2, x1, x2))


def _threefry_jvp(primals, tangents):
    # Integer outputs: their tangents are symbolically zero (float0 in JAX).
    return threefry2x32_p.bind(*primals), [None, None]


def _threefry_batch(args, dims):
    return broadcasting_rule(threefry2x32_p)(args, dims)


threefry2x32_p = common.define('threefry2x32', _threefry_abstract, _threefry_impl,
                               _threefry_jvp, batch=_threefry_batch, multiple_results=True)
threefry2x32_p.lowering = Elementwise(
    header='tj_random.cuh',
    outputs=('tj_threefry2x32_y1({0}, {1}, {2}, {3})', 'tj_threefry2x32_y2({0}, {1}, {2}, {3})'),
    statement='tj_threefry2x32({0}, {1}, {2}, {3}, &{4}, &{5});')


def threefry2x32(k1, k2, x1, x2):
    return threefry2x32_p.bind(k1, k2, x1, x2)


# --- bitcast_convert_type (same width) ---------------------------------------------
def _bitcast_abstract(x, new_dtype):
    new_dtype = np.dtype(new_dtype)
    if x.dtype.itemsize != new_dtype.itemsize:
        raise TypeError(f'bitcast_convert_type: {x.dtype.name} and {new_dtype.name} have '
                        'different widths; only same-width bit casts are supported')
    return ShapedArray(x.shape, new_dtype, False)


def _bitcast_impl(xp, x, new_dtype):
    return xp.array(x, copy=True).view(np.dtype(new_dtype))


def _bitcast_jvp(primals, tangents, new_dtype):
    # Reinterpreting bits is not differentiable; JAX gives zero tangents too.
    return bitcast_convert_type_p.bind(*primals, new_dtype=new_dtype), None


bitcast_convert_type_p = common.define(
    'bitcast_convert_type', _bitcast_abstract, _bitcast_impl, _bitcast_jvp,
    batch=lambda args, dims, **p: (bitcast_convert_type_p.bind(*args, **p), dims[0]))
# Its helpers live in tj_random.cuh, which the kernel then includes.
bitcast_convert_type_p.lowering = Elementwise('tj_bitcast_to_{new_dtype}({0})',
                                              header='tj_random.cuh')


def bitcast_convert_type(x, new_dtype):
    new_dtype = np.dtype(new_dtype)
    if common.aval_of(x).dtype == new_dtype:
        return x
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype)
