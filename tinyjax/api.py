"""Top-level functions: make_jaxpr, device_put/get, block_until_ready, eval_shape."""
import contextlib

import numpy as np

from tinyjax import backends, tree_util
from tinyjax.core import trace as core_trace
from tinyjax.core.array import Array, ArrayImpl
from tinyjax.core.ir import ClosedJaxpr, ShapeDtypeStruct, ShapedArray  # noqa: F401 (ShapeDtypeStruct: API)
from tinyjax.ops import common
from tinyjax.sharding import arrays as sharded_arrays
from tinyjax.ops.layout import reshard  # noqa: F401 (jax.reshard)
from tinyjax.sharding.specs import (
    AbstractMesh, NamedSharding, PartitionSpec, Sharding, _normal, named_sharding, to_spec)
from tinyjax.transforms.tracing import trace_to_graph, with_positions


def _abstract(x):
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return common.aval_of(x)


def _sharding_type(x, ndim):
    """A NamedSharding on the abstract mesh of x's sharding whose spec keeps only the
    Explicit mesh axes (JAX's sharding in types): the empty mesh for a single-device
    value. Under jit the arguments' tracers carry their arrays' shardings; values computed
    from them do not (a sharded jit is partitioned after tracing) and get the empty one."""
    sharding = getattr(x, 'sharding', None) if isinstance(x, ArrayImpl) else \
        getattr(common.aval_of(x), 'sharding', None)      # a jit argument's tracer
    if not isinstance(sharding, NamedSharding):
        return NamedSharding(AbstractMesh(), PartitionSpec(*[None] * ndim))
    explicit = sharding.explicit_axes()
    keep = [tuple(n for n in names if n in explicit) for names in _normal(sharding.spec, ndim)]
    return NamedSharding(sharding.mesh.abstract_mesh, to_spec(keep) if any(keep) else
                         PartitionSpec(*[None] * ndim))


def typeof(x):
    """The abstract value (ShapedArray: shape, dtype, weak type, and `.sharding`) of an
    array, tracer, scalar or ShapeDtypeStruct, as JAX's `jax.typeof`."""
    aval = _abstract(x)
    if not isinstance(aval, ShapedArray):        # a Ref's type
        return aval
    return ShapedArray(aval.shape, aval.dtype, aval.weak_type, aval.vma,
                       sharding=_sharding_type(x, aval.ndim))


def make_jaxpr(fun, static_argnums=(), return_shape=False):
    if not callable(fun):
        raise TypeError(f'make_jaxpr: the first argument must be callable, got {fun!r} '
                        f'({type(fun).__name__}); pass the function to trace, then call the '
                        'result with example arguments: make_jaxpr(f)(x)')
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def wrapped(*args, **kwargs):
        dyn_idx = [i for i in range(len(args)) if i not in static]

        f = with_positions(fun, args, dyn_idx, kwargs)
        dyn = tuple(args[i] for i in dyn_idx)
        leaves = tree_util.tree_leaves(dyn)
        graph, _, out_tree = trace_to_graph(f, dyn, avals=[_abstract(x) for x in leaves])
        jaxpr = ClosedJaxpr(graph, graph.consts)
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in graph.out_avals]
            return jaxpr, tree_util.tree_unflatten(out_tree, shapes)
        return jaxpr
    return wrapped


def eval_shape(fun, *args, **kwargs):
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    graph, _, out_tree = trace_to_graph(fun, args, kwargs, avals=[_abstract(x) for x in leaves])
    return tree_util.tree_unflatten(
        out_tree, [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in graph.out_avals])


def device_put(x, device=None, *, src=None, donate=False, may_alias=None):
    """Move x (a pytree) to a device, or lay it out by a Sharding (a NamedSharding cuts
    each array into per-device blocks; a PartitionSpec means one on the current mesh)."""
    if isinstance(device, PartitionSpec):
        device = named_sharding(device, 'device_put')
    if isinstance(device, Sharding):
        return tree_util.tree_map(lambda v: sharded_arrays.scatter(v, device), x)
    dev = device or backends.default_device()

    def put(v):
        if isinstance(v, ArrayImpl):
            if v.device is dev and not isinstance(v, sharded_arrays.GlobalArray):
                return v
            return ArrayImpl(dev.accept(v), dev, v.weak_type)
        if isinstance(v, Array):
            return v
        a = core_trace.as_array(v)
        return ArrayImpl(dev.accept(a), dev, a.weak_type) if a.device is not dev else a
    return tree_util.tree_map(put, x)


def make_array_from_single_device_arrays(shape, sharding, arrays, *, dtype=None):
    return sharded_arrays.from_blocks(tuple(shape), sharding, list(arrays))


def make_array_from_callback(shape, sharding, data_callback, dtype=None):
    return sharded_arrays.from_callback(tuple(shape), sharding, data_callback)


def make_array_from_process_local_data(sharding, local_data, global_shape=None):
    """A global array from each process's part of it (the whole array in one process);
    local_data may be a pytree of arrays, and sharding a PartitionSpec on the current mesh."""
    if isinstance(sharding, PartitionSpec):
        sharding = named_sharding(sharding, 'make_array_from_process_local_data')

    def one(x):
        if isinstance(sharding, NamedSharding):
            return sharded_arrays.from_process_local(sharding, x, global_shape)
        return sharded_arrays.scatter(core_trace.as_array(x), sharding)
    return tree_util.tree_map(one, local_data)


def device_get(x):
    def get(v):
        if isinstance(v, ArrayImpl):
            return np.asarray(v._value())
        return v
    return tree_util.tree_map(get, x)


def block_until_ready(x):
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, ArrayImpl):
            leaf.block_until_ready()
    return x


def ensure_compile_time_eval():
    return contextlib.nullcontext()


def is_tracer(x):
    return isinstance(x, core_trace.Tracer)


def named_call(fun, *, name=None):
    """Returns fun: tinyjax graphs carry no name stack, so naming changes nothing computed."""
    return fun


@contextlib.contextmanager
def named_scope(name):
    """A name for the operations traced inside (JAX uses it in profiles); a no-op here."""
    if not isinstance(name, str):
        raise TypeError('named_scope name argument must be a string.')
    yield
