"""with_sharding_constraint and out_sharding=: an identity that fixes where a value lies over a mesh.

Outside jit it lays a concrete array out (as jax.reshard does). Under jit the partitioner
(transforms/partition.py) moves the value to that layout, and the compiler then drops the
equation, as it drops every identity. Its derivative and transpose carry the same
constraint, so a cotangent is laid out like its primal."""
import functools
import itertools

from tinyjax.core.trace import Tracer
from tinyjax.ops import common
from tinyjax.sharding import arrays
from tinyjax.sharding.arrays import GlobalArray
from tinyjax.sharding.specs import (
    AxisType, Mesh, NamedSharding, PartitionSpec, Sharding, _normal, get_mesh, named_sharding,
    set_mesh, to_spec)
from tinyjax import tree_util


def _abstract(x, sharding, check, token):
    if sharding is not None:
        sharding.check_shape(x.shape, 'with_sharding_constraint' if check else 'reshard')
    return x


def _bind(x, sharding, check, token):
    return None if x is None else sharding_constraint_p.bind(x, sharding=sharding, check=check,
                                                             token=token)


def _batch(args, dims, sharding, check, token):
    (x,), (d,) = args, dims
    if sharding is not None:
        spec = list(_normal(sharding.spec, common.aval_of(x).ndim - 1))
        spec.insert(d, ())
        sharding = NamedSharding(sharding.mesh, PartitionSpec(*[n or None for n in spec]))
    return _bind(x, sharding, check, token), d


# check=True (with_sharding_constraint): on Explicit mesh axes the layout must already be
# this one (JAX's assertion); check=False (reshard, out_sharding=): move the data.
# `token` pairs a constraint with its transpose, which has sharding=None: a cotangent goes
# back to the layout the primal had before the constraint (known once the partitioner has
# seen the forward equation with the same token).
sharding_constraint_p = common.define(
    'sharding_constraint', _abstract, lambda xp, x, **params: x,
    jvp=lambda primals, tangents, **params: (_bind(primals[0], **params),
                                             _bind(tangents[0], **params)),
    transpose=lambda ct, x, sharding, check, token: [_bind(ct, None, False, token)],
    batch=_batch)
sharding_constraint_p.identity = True
_tokens = itertools.count()


def mismatch(have, want, explicit):
    """JAX's assertion when with_sharding_constraint meets a different layout on Explicit
    axes (None when it may move the data)."""
    if have == want or not explicit & {n for names in have + want for n in names}:
        return None
    return AssertionError(
        '`with_sharding_constraint` acts as an assert when all axes of mesh are of type '
        f'`Explicit`. The array sharding: {to_spec(have)} did not match the sharding provided: '
        f'{to_spec(want)}. Please use `jax.sharding.reshard` to shard your input to the '
        'sharding you want.')


def _place(tree, shardings, check, what):
    def one(v, s):
        s = named_sharding(s, what)
        if isinstance(v, Tracer):
            return _bind(v, s, check, next(_tokens))
        if check and isinstance(v, GlobalArray) and v.sharding.mesh == s.mesh:
            err = mismatch(_normal(v.sharding.spec, v.ndim), _normal(s.spec, v.ndim),
                           s.explicit_axes())
            if err is not None:
                raise err
        return arrays.reshard(v, s)
    if isinstance(shardings, (Sharding, PartitionSpec)) or shardings is None:
        return tree_util.tree_map(lambda v: v if shardings is None else one(v, shardings), tree)
    return tree_util.tree_map(lambda s, v: one(v, s), shardings, tree,
                              is_leaf=lambda s: isinstance(s, (Sharding, PartitionSpec)))


def with_sharding_constraint(x, shardings):
    """jax.lax.with_sharding_constraint: x (a pytree) laid out by shardings (a Sharding or a
    PartitionSpec on the current mesh, or a pytree prefix of them); on Explicit mesh axes an
    assertion that it already is."""
    return _place(x, shardings, True, 'with_sharding_constraint')


def reshard(x, out_shardings):
    """jax.reshard: x (a pytree) moved to out_shardings (concrete arrays now, traced
    values when the computation runs)."""
    return _place(x, out_shardings, False, 'reshard')


def laid_out(x, out_sharding):
    """A result given an `out_sharding=` argument: x, laid out by it when one is given."""
    return x if out_sharding is None else reshard(x, out_sharding)


def takes_out_sharding(fn):
    """fn with JAX's `out_sharding=` keyword: its result laid out by it."""
    @functools.wraps(fn)
    def wrapper(*args, out_sharding=None, **kwargs):
        return laid_out(fn(*args, **kwargs), out_sharding)
    return wrapper


def _axis_types(axes, kind, what):
    """A context in which the current mesh's `axes` (all by default) have type `kind`."""
    mesh = get_mesh()
    if mesh is None:
        raise ValueError(f'{what} needs a current mesh: call it under jax.set_mesh(mesh)')
    names = mesh.axis_names if axes is None else (axes,) if isinstance(axes, str) else tuple(axes)
    return set_mesh(Mesh(mesh.devices, mesh.axis_names, axis_types=tuple(
        kind if n in names else t for n, t in zip(mesh.axis_names, mesh.axis_types))))


def auto_axes(f=None, /, *, axes=None, out_sharding=None):
    """jax.sharding.auto_axes: f runs with the mesh's `axes` in Auto mode (shardings that
    would clash are resolved by moving data rather than rejected); its result is laid out
    by out_sharding, which the call may also pass."""
    if f is None:
        return functools.partial(auto_axes, axes=axes, out_sharding=out_sharding)

    @functools.wraps(f)
    def wrapper(*args, out_sharding=out_sharding, **kwargs):
        with _axis_types(axes, AxisType.Auto, 'auto_axes'):
            out = f(*args, **kwargs)
        return laid_out(out, out_sharding)
    return wrapper


def explicit_axes(f=None, /, *, axes=None, in_sharding=None):
    """jax.sharding.explicit_axes: f runs with the mesh's `axes` in Explicit mode, its
    arguments first laid out by in_sharding (which the call may also pass)."""
    if f is None:
        return functools.partial(explicit_axes, axes=axes, in_sharding=in_sharding)

    @functools.wraps(f)
    def wrapper(*args, in_sharding=in_sharding, **kwargs):
        if in_sharding is not None:
            args = reshard(args, in_sharding if isinstance(in_sharding, tuple)
                                            and not isinstance(in_sharding, PartitionSpec)
                                            else (in_sharding,) * len(args))
        with _axis_types(axes, AxisType.Explicit, 'explicit_axes'):
            return f(*args, **kwargs)
    return wrapper
