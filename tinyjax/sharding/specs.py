"""Meshes and shardings: how a global array's blocks sit on devices (jax.sharding).

A `Mesh` is an n-d grid of devices with a name per axis. A `PartitionSpec` says, per
array dimension, which mesh axes split it (None: not split). A `NamedSharding` pairs the
two; from it follow each device's block of the global array (`devices_indices_map`),
the block's shape, and which devices hold the same block (replicas). Arrays laid out
this way are `GlobalArray`s (global_array.py); `shard_map` runs a function on every
device's block.
"""
import contextlib
import enum
import math
import threading

import numpy as np

from tinyjax import backends


class AxisType(enum.Enum):
    """How a mesh axis is partitioned: by the compiler (Auto), by the program's types
    (Explicit), or by hand inside shard_map (Manual)."""
    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()


class PartitionSpec(tuple):
    """Per array dimension: a mesh axis name, a tuple of names (split over their product,
    major to minor), or None. Trailing dimensions not named are not split."""
    UNCONSTRAINED = 'unconstrained'

    def __new__(cls, *parts):
        for p in parts:
            names = p if isinstance(p, tuple) else (p,)
            if not all(n is None or isinstance(n, str) or n is PartitionSpec.UNCONSTRAINED
                       for n in names):
                raise TypeError(f'PartitionSpec entries must be mesh axis names, tuples of '
                                f'names or None; got {p!r}')
        return super().__new__(cls, parts)

    def __repr__(self):
        return 'P(' + ', '.join(repr(p) for p in self) + (',)' if len(self) == 1 else ')')

    def __eq__(self, other):
        if isinstance(other, PartitionSpec):
            return _normal(self) == _normal(other)
        return tuple.__eq__(self, other)

    def __hash__(self):
        return hash(_normal(self))

    def __reduce__(self):
        return (PartitionSpec, tuple(self))


P = PartitionSpec


def _normal(spec, ndim=None):
    """Each entry as a tuple of names; trailing empty entries dropped (or padded to ndim)."""
    out = [() if p is None else (p if isinstance(p, tuple) else (p,)) for p in spec]
    while out and out[-1] == ():
        out.pop()
    if ndim is not None:
        out += [()] * (ndim - len(out))
    return tuple(out)


def to_spec(dims):
    """A PartitionSpec from per-dimension tuples of names (the normal form)."""
    return PartitionSpec(*[None if not n else n[0] if len(n) == 1 else tuple(n) for n in dims])


class Mesh:
    """devices: an n-d array of devices; axis_names: one name per dimension."""

    def __init__(self, devices, axis_names, *, axis_types=None):
        devs = np.asarray(devices, dtype=object)
        names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        if devs.ndim != len(names):
            raise ValueError(f'Mesh: devices has {devs.ndim} dimensions {devs.shape} but '
                             f'{len(names)} axis names {names} were given')
        if len(set(names)) != len(names):
            raise ValueError(f'Mesh: axis names must be unique, got {names}')
        if len({id(d) for d in devs.flat}) != devs.size:
            raise ValueError('Mesh: a device appears more than once in the device array')
        types = axis_types if axis_types is not None else (AxisType.Auto,) * len(names)
        types = (types,) if isinstance(types, AxisType) else tuple(types)
        if len(types) != len(names):
            raise ValueError(f'Mesh: {len(types)} axis_types for {len(names)} axes')
        self.devices, self.axis_names, self.axis_types = devs, names, types
        self._ctx = []

    @property
    def shape(self):
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def axis_sizes(self):
        return tuple(self.devices.shape)

    @property
    def size(self):
        return self.devices.size

    @property
    def empty(self):
        return self.devices.size == 0

    @property
    def device_ids(self):
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    @property
    def local_devices(self):
        return [d for d in self.devices.flat if backends.is_local(d)]

    @property
    def shape_tuple(self):
        return tuple(zip(self.axis_names, self.devices.shape))

    def coords(self):
        """(device, {axis name: coordinate}) for every device, in row-major order."""
        for idx in np.ndindex(*self.devices.shape):
            yield self.devices[idx], dict(zip(self.axis_names, idx))

    def __eq__(self, other):
        return (isinstance(other, Mesh) and self.axis_names == other.axis_names
                and self.devices.shape == other.devices.shape
                and all(a is b for a, b in zip(self.devices.flat, other.devices.flat)))

    def __hash__(self):
        return hash((self.axis_names, self.devices.shape, tuple(id(d) for d in self.devices.flat)))

    def __enter__(self):
        self._ctx.append(set_mesh(self))
        return self

    def __exit__(self, *exc):
        self._ctx.pop().__exit__(*exc)

    @property
    def abstract_mesh(self):
        d = self.devices.flat[0] if self.devices.size else None
        return AbstractMesh(self.axis_sizes, self.axis_names, self.axis_types,
                            platform=getattr(d, 'platform', None))

    def __repr__(self):
        return f'Mesh({_axes_repr(self.axis_names, self.devices.shape, self.axis_types)})'


def _axes_repr(names, sizes, types):
    shape = ', '.join(f"'{n}': {s}" for n, s in zip(names, sizes))
    return f"{shape or '()'}, axis_types=({''.join(t.name + ', ' for t in types)[:-2]}" + \
        (',)' if len(types) == 1 else ')')


class AbstractMesh:
    """A mesh's shape, names and axis types, without devices (what jax.typeof and
    get_abstract_mesh show). Under use_abstract_mesh a PartitionSpec is placed on the first
    devices, laid out in this shape."""

    def __init__(self, axis_sizes=(), axis_names=(), axis_types=None, *, platform=None):
        self.axis_sizes, self.axis_names = tuple(axis_sizes), tuple(axis_names)
        if len(self.axis_sizes) != len(self.axis_names):
            raise ValueError(f'AbstractMesh: {len(self.axis_sizes)} sizes for '
                             f'{len(self.axis_names)} axis names')
        types = axis_types if axis_types is not None else (AxisType.Auto,) * len(self.axis_names)
        self.axis_types = (types,) if isinstance(types, AxisType) else tuple(types)
        self.platform = platform

    shape = property(lambda self: dict(zip(self.axis_names, self.axis_sizes)))
    size = property(lambda self: math.prod(self.axis_sizes))
    empty = property(lambda self: not self.axis_names)
    shape_tuple = property(lambda self: tuple(zip(self.axis_names, self.axis_sizes)))
    abstract_mesh = property(lambda self: self)

    def update_axis_types(self, types):
        """A copy with the named axes' types replaced ({name: AxisType})."""
        return AbstractMesh(self.axis_sizes, self.axis_names,
                            tuple(types.get(n, t) for n, t in zip(self.axis_names, self.axis_types)),
                            platform=self.platform)

    def concrete(self):
        """A Mesh of the first devices in this shape."""
        devs = backends.devices()[:self.size]
        return Mesh(np.asarray(devs, dtype=object).reshape(self.axis_sizes), self.axis_names,
                    axis_types=self.axis_types)

    def __eq__(self, other):
        return (isinstance(other, AbstractMesh) and self.shape_tuple == other.shape_tuple
                and self.axis_types == other.axis_types)

    def __hash__(self):
        return hash((self.shape_tuple, self.axis_types))

    def __repr__(self):
        extra = f', device_kind={self.platform}, num_cores=None, platform={self.platform}' \
            if self.platform else ''
        return f'AbstractMesh({_axes_repr(self.axis_names, self.axis_sizes, self.axis_types)}{extra})'


def make_mesh(axis_shapes, axis_names, axis_types=None, *, devices=None):
    """A mesh of the first prod(axis_shapes) devices, in device order. Its axes are
    Explicit unless axis_types says otherwise, as in JAX."""
    axis_shapes = tuple(axis_shapes)
    axis_names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
    if len(axis_shapes) != len(axis_names):
        raise ValueError(f'make_mesh: {len(axis_shapes)} axis shapes {axis_shapes} but '
                         f'{len(axis_names)} axis names {axis_names}')
    devs = list(devices) if devices is not None else backends.devices()
    n = math.prod(axis_shapes)
    if n > len(devs):
        raise ValueError(f'make_mesh: the mesh {dict(zip(axis_names, axis_shapes))} needs {n} '
                         f'devices but only {len(devs)} are available. Set '
                         'JAX_NUM_CPU_DEVICES (or jax.config jax_num_cpu_devices) before the '
                         'first use of devices, or use a smaller mesh.')
    grid = np.empty(n, dtype=object)
    grid[:] = devs[:n]
    if axis_types is None:
        axis_types = (AxisType.Explicit,) * len(axis_names)
    return Mesh(grid.reshape(axis_shapes), axis_names, axis_types=axis_types)


# --- the current mesh (jax.set_mesh / with mesh:) ----------------------------------------
_current = threading.local()


def get_mesh():
    """The mesh set by jax.set_mesh / `with mesh:` (or use_abstract_mesh, placed on the
    first devices), or None."""
    stack = getattr(_current, 'stack', None)
    if not stack:
        return None
    m = stack[-1]
    return m.concrete() if isinstance(m, AbstractMesh) else m


def get_abstract_mesh():
    """jax.sharding.get_abstract_mesh: the current mesh's AbstractMesh (empty with none)."""
    stack = getattr(_current, 'stack', None)
    m = stack[-1] if stack else None
    if m is None:
        return AbstractMesh((), ())
    return m if isinstance(m, AbstractMesh) else m.abstract_mesh


class _MeshSetting(contextlib.AbstractContextManager):
    def __init__(self, mesh):
        if not isinstance(mesh, (Mesh, AbstractMesh)):
            raise TypeError(f'set_mesh expects a Mesh, got {type(mesh).__name__}')
        if not hasattr(_current, 'stack'):
            _current.stack = []
        _current.stack.append(mesh)
        self.mesh = mesh

    def __exit__(self, *exc):
        _current.stack.remove(self.mesh)


def set_mesh(mesh):
    """Make `mesh` the current mesh; usable as a context manager that restores the last."""
    return _MeshSetting(mesh)


use_mesh = use_abstract_mesh = set_mesh


def named_sharding(s, what):
    """A Sharding as given, or a PartitionSpec on the current mesh (JAX's error without one)."""
    if isinstance(s, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(
                f'{what}: using a PartitionSpec when you are not under a mesh context is not '
                'allowed. Please pass a NamedSharding instance or enter into a mesh context '
                f'via `jax.set_mesh`. Got {s!r}')
        return NamedSharding(mesh, s)
    if not isinstance(s, Sharding):
        raise TypeError(f'{what} expects a Sharding or a PartitionSpec, got {type(s).__name__}')
    return s


# --- shardings ---------------------------------------------------------------------------
class Sharding:
    """How an array of a given shape lies on devices."""

    @property
    def device_set(self):
        return set(self._device_list())

    @property
    def addressable_devices(self):
        return {d for d in self._device_list() if backends.is_local(d)}

    def addressable_devices_indices_map(self, shape):
        return {d: i for d, i in self.devices_indices_map(shape).items() if backends.is_local(d)}

    def shard_shape(self, shape):
        idx = next(iter(self.devices_indices_map(shape).values()))
        return tuple(len(range(*s.indices(n))) for s, n in zip(idx, shape))


class SingleDeviceSharding(Sharding):
    def __init__(self, device, *, memory_kind=None):
        # JAX names a device's own memory 'device' (on the CPU too).
        self._device, self.memory_kind = device, memory_kind or 'device'

    def _device_list(self):
        return [self._device]

    @property
    def num_devices(self):
        return 1

    @property
    def is_fully_replicated(self):
        return True

    @property
    def is_fully_addressable(self):
        return backends.is_local(self._device)

    def devices_indices_map(self, shape):
        return {self._device: tuple(slice(None) for _ in shape)}

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device is self._device \
            and other.memory_kind == self.memory_kind

    def __hash__(self):
        return hash(('single', id(self._device)))

    def __repr__(self):
        return f'SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})'


class NamedSharding(Sharding):
    def __init__(self, mesh, spec=PartitionSpec(), *, memory_kind=None):
        if not isinstance(mesh, (Mesh, AbstractMesh)):
            raise TypeError(f'NamedSharding expects a Mesh, got {type(mesh).__name__}')
        spec = spec if isinstance(spec, PartitionSpec) else PartitionSpec(*spec)
        seen = []
        for names in _normal(spec):
            for n in names:
                if n is PartitionSpec.UNCONSTRAINED:
                    continue
                if n not in mesh.axis_names:
                    raise ValueError(f'Resource axis: {n} of {spec} is not found in mesh: '
                                     f'{tuple(mesh.axis_names)}.')
                if n in seen:
                    raise ValueError(f'A single NamedSharding spec specification can map '
                                     f'every mesh axis to at most one positional dimension, '
                                     f"but {spec} has duplicate entries for '{n}'")
                seen.append(n)
        self.mesh, self.spec, self.memory_kind = mesh, spec, memory_kind

    def _device_list(self):
        return list(self.mesh.devices.flat)

    @property
    def num_devices(self):
        return self.mesh.size

    @property
    def is_fully_replicated(self):
        return all(self.mesh.shape[n] == 1 for names in _normal(self.spec) for n in names)

    @property
    def is_fully_addressable(self):
        return all(backends.is_local(d) for d in self.mesh.devices.flat)

    def explicit_axes(self):
        return {n for n, t in zip(self.mesh.axis_names, self.mesh.axis_types)
                if t is AxisType.Explicit}

    def split_counts(self, ndim):
        """How many blocks each dimension is cut into."""
        return tuple(math.prod(self.mesh.shape[n] for n in names)
                     for names in _normal(self.spec, ndim))

    def check_shape(self, shape, what='device_put'):
        names = _normal(self.spec)
        if len(names) > len(shape):
            raise ValueError(f'{what}: sharding {self.spec} has {len(names)} entries but the '
                             f'array has only {len(shape)} dimensions (shape {tuple(shape)})')
        for dim, (n, k) in enumerate(zip(shape, self.split_counts(len(shape)))):
            if n % k:
                raise ValueError(
                    f'One of {what} args was given the sharding of {self!r}, which implies '
                    f'that the global size of its dimension {dim} should be divisible by {k}, '
                    f'but it is equal to {n} (full shape: {tuple(shape)})')

    def block_coords(self, coords, ndim):
        """A device's block number along each dimension, from its mesh coordinates."""
        out = []
        for names in _normal(self.spec, ndim):
            b = 0
            for n in names:                        # major to minor
                b = b * self.mesh.shape[n] + coords[n]
            out.append(b)
        return tuple(out)

    def devices_indices_map(self, shape):
        shape = tuple(shape)
        self.check_shape(shape)
        counts = self.split_counts(len(shape))
        out = {}
        for dev, coords in self.mesh.coords():
            blocks = self.block_coords(coords, len(shape))
            out[dev] = tuple(slice(b * (n // k), (b + 1) * (n // k)) if k > 1 else slice(None)
                             for b, n, k in zip(blocks, shape, counts))
        return out

    def __eq__(self, other):
        return (isinstance(other, NamedSharding) and self.mesh == other.mesh
                and _normal(self.spec) == _normal(other.spec))

    def __hash__(self):
        return hash((self.mesh, _normal(self.spec)))

    def __repr__(self):
        if isinstance(self.mesh, AbstractMesh):     # a type: no devices, no memory
            return f'NamedSharding(mesh={self.mesh!r}, spec={self.spec!r})'
        return (f'NamedSharding(mesh={self.mesh!r}, spec={self.spec!r}, '
                f'memory_kind={self.memory_kind or "device"})')
