"""jit: trace once per signature, compile the graph to fused kernels, run the Program.

A call flattens its arguments, splits off static ones, and looks up the trace cache by
(argument tree, shapes, dtypes, weak types, static values). A miss traces the function
abstractly (ShapedArrays, so Python control flow on traced values raises
ConcretizationTypeError), and each device gets its own compiled Program.

Called with tracers (inside grad, vmap or another jit), jit does not compile: it
evaluates its traced graph in the surrounding context with eval_graph, so the outer
transformation sees ordinary primitives and everything composes.
"""
import functools
import inspect
import weakref

import numpy as np

from tinyjax import backends, tree_util
from tinyjax.config import read as read_config, trace_context
from tinyjax.compiler import hostcc
from tinyjax.compiler.program import Program
from tinyjax.core import trace as core_trace
from tinyjax.core.array import Array, ArrayImpl, _DeletedBuffer
from tinyjax.core.ir import ShapedArray, ShapeDtypeStruct, pretty_print
from tinyjax.ref import Ref
from tinyjax.sharding.arrays import GlobalArray
from tinyjax.sharding.specs import Sharding
from tinyjax.transforms import partition
from tinyjax.transforms.tracing import flatten_fun, prefix_leaves


def jit(fun=None, *, static_argnums=None, static_argnames=None, donate_argnums=None,
        donate_argnames=None, fuse=True, device=None, backend=None, inline=False,
        keep_unused=False, abstracted_axes=None, in_shardings=None, out_shardings=None):
    """Compile `fun`; usable as `jit(f, ...)`, `@jit` or `@jit(static_argnums=...)`."""
    kw = dict(static_argnums=static_argnums, static_argnames=static_argnames,
              donate_argnums=donate_argnums, donate_argnames=donate_argnames, fuse=fuse,
              device=device, backend=backend, in_shardings=in_shardings,
              out_shardings=out_shardings)
    if fun is None:
        return lambda f: jit(f, **kw)
    if not callable(fun):
        raise TypeError(f'Expected a callable value, got {fun!r}')
    return JitFunction(fun, **kw)


_live_jits = weakref.WeakSet()
# JAX keys jit's caches on the function, not on the jit(...) wrapper: `jit(f)(x)` written
# inline in a loop traces once, and a second jit(f) reuses the first one's traces (so a
# global changed meanwhile is not seen: the documented "impure function" behaviour).
# Weakly keyed, so the function and its traces can be collected.
_caches_by_fun = weakref.WeakKeyDictionary()


def _shared_caches(fun, options, direct_ok):
    """The trace cache and fast-path cache that every jit of `fun` with these options
    shares (donation is not among them: it changes the compiled Program, which each
    trace keeps per donation, not the trace), and the direct cache, shared by those of
    them that donate nothing and take nothing static; fresh ones when fun cannot be
    weakly referenced."""
    try:
        per_fun = _caches_by_fun.setdefault(fun, {})
    except TypeError:                     # not weakly referenceable (some builtins)
        return {}, {}, ({} if direct_ok else None)
    if options not in per_fun:
        per_fun[options] = ({}, {}, {})
    cache, fast, direct = per_fun[options]
    return cache, fast, (direct if direct_ok else None)


def clear_caches():
    """Drop every jit function's traced graphs and compiled programs (jax.clear_caches),
    then unload the host libraries no remaining program uses. A program still held
    elsewhere (a `jit(f).lower(...).compile()` the caller keeps) keeps its library."""
    for f in list(_live_jits):
        f.clear_cache()
    _caches_by_fun.clear()
    hostcc.unload_unused()


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, (int, str)):
        return (x,)
    return tuple(x)


class _Entry:
    def __init__(self, graph, out_tree, cacheable, refs=()):
        self.graph, self.out_tree, self.cacheable = graph, out_tree, cacheable
        self.refs = refs       # positions of Ref leaves: their final values end the outputs
        self.meshes = partition.graph_meshes(graph)    # shard_maps: run over their mesh
        self.programs = {}
        self.sharded = {}      # (mesh, input layouts, output layouts) -> SpmdProgram


class JitFunction:
    def __init__(self, fun, static_argnums, static_argnames, donate_argnums, donate_argnames,
                 fuse, device, backend, in_shardings=None, out_shardings=None):
        functools.update_wrapper(self, fun)
        self._shardings = None if in_shardings is None and out_shardings is None else \
            (in_shardings, out_shardings)
        self.fun, self.fuse = fun, fuse
        self._device = device if device is not None else (
            backends.devices(backend)[0] if backend is not None else None)
        self.static_argnums = _as_tuple(static_argnums)
        self.static_argnames = _as_tuple(static_argnames)
        self.donate_argnums = _as_tuple(donate_argnums)
        for n in self.static_argnums + self.donate_argnums:
            if not isinstance(n, int):
                raise TypeError(f'jit argnums must be ints, got {n!r}')
        try:
            self._sig = inspect.signature(fun)
        except (TypeError, ValueError):
            self._sig = None
        params = list(self._sig.parameters) if self._sig else []
        # JAX infers static names from numbers and numbers from names.
        names = set(self.static_argnames)
        for i in self.static_argnums:
            if 0 <= i < len(params):
                names.add(params[i])
        self._static_names = names
        self._static_pos_from_names = {params.index(n) for n in self.static_argnames if n in params}
        donate_names = _as_tuple(donate_argnames)
        self._donate_pos = set(self.donate_argnums) | {
            params.index(n) for n in donate_names if n in params}
        self._has_static = bool(self.static_argnums or self.static_argnames)
        self._donate_order = tuple(sorted(self._donate_pos))
        # _direct: (structure with avals, device, trace context) -> (Program, consts,
        # unflatten), see __call__; None when arguments can be static, donated or sharded.
        options = (self.static_argnums, self.static_argnames, fuse, _hashable_or_id(device),
                   backend, _hashable_or_id(self._shardings))
        self._cache, self._fast, self._direct = _shared_caches(
            fun, options,
            direct_ok=not (self._has_static or self._donate_pos or self._shardings))
        _live_jits.add(self)

    # -- argument handling ------------------------------------------------------------
    def _split(self, args, kwargs):
        n = len(args)
        static_pos = {i % n if -n <= i < n else i for i in self.static_argnums}
        static_pos |= self._static_pos_from_names
        statics, dyn_args = [], []
        for i, a in enumerate(args):
            if i in static_pos:
                statics.append((i, _check_hashable(a)))
            else:
                dyn_args.append((i, a))
        dyn_kwargs, static_kw = {}, []
        for k, v in kwargs.items():
            if k in self._static_names:
                static_kw.append((k, _check_hashable(v)))
            else:
                dyn_kwargs[k] = v
        return tuple(statics), tuple(sorted(static_kw, key=lambda kv: kv[0])), dyn_args, dyn_kwargs

    def _call_with(self, statics, static_kw, dyn_positions, nargs):
        fun = self.fun

        def f(*dyn, **dyn_kw):
            full = [None] * nargs
            for i, v in statics:
                full[i] = v
            for i, v in zip(dyn_positions, dyn):
                full[i] = v
            return fun(*full, **dict(static_kw), **dyn_kw)
        f.__name__ = getattr(fun, '__name__', 'fun')
        return f

    def _prepare(self, args, kwargs):
        # Fast path for the common call: positional arrays only, nothing static. The key
        # skips building and hashing a pytree definition on every call.
        simple = not kwargs and not self._has_static and all(
            isinstance(a, Array) and type(a) is not GlobalArray for a in args)
        if simple:
            fast_key = (tuple(a.aval for a in args), trace_context())
            entry = self._fast.get(fast_key)
            if entry is not None:
                return entry, list(args), tuple(p for p in self._donate_order if p < len(args))
        entry, arrays, donated = self._prepare_slow(args, kwargs)
        if simple and entry.cacheable:
            self._fast[fast_key] = entry
        return entry, arrays, donated

    def _prepare_slow(self, args, kwargs):
        statics, static_kw, dyn_args, dyn_kwargs = self._split(args, kwargs)
        dyn_positions = [i for i, _ in dyn_args]
        dyn = tuple(a for _, a in dyn_args)
        leaves, in_tree = tree_util.tree_flatten((dyn, dyn_kwargs))
        refs = _ref_positions(leaves, getattr(self.fun, '__name__', 'fun'))
        arrays = [_leaf_array(x._value if k in refs else x,
                              self._arg_name(dyn_positions, dyn, k)) for k, x in enumerate(leaves)]
        # x64 and the default matmul precision change what tracing produces (default
        # dtypes, dot_general's precision), so they are part of the key; so are sharded
        # arguments' shardings, which their tracers' types carry (jax.typeof(x).sharding,
        # shard_map's in_specs taken from its arguments).
        avals = [_typed_aval(a) for a in arrays]
        key = (in_tree, tuple(avals), tuple(a.sharding for a in avals), refs, statics,
               static_kw, trace_context())
        entry = self._cache.get(key)
        if entry is None:
            f = self._call_with(statics, static_kw, dyn_positions, len(args))
            store = []
            flat = _with_refs(flatten_fun(f, in_tree, store), refs)
            shard_maps = partition.manual_traces()
            graph, _ = core_trace.make_graph(flat, avals,
                                             name=getattr(self.fun, '__name__', 'fun'))
            cacheable = not any(isinstance(c, core_trace.Tracer) for c in graph.consts)
            entry = _Entry(graph, store[0], cacheable, refs)
            entry.manual = partition.manual_traces() != shard_maps   # traced a shard_map
            if cacheable:
                self._cache[key] = entry
        donated = self._donated_leaves(dyn_positions, dyn, len(leaves))
        return entry, arrays, donated

    def _arg_name(self, positions, dyn, k):
        return f'argument {k}'

    def _donated_leaves(self, positions, dyn, n_leaves):
        if not self._donate_pos:
            return ()
        out, start = [], 0
        for pos, a in zip(positions, dyn):
            cnt = len(tree_util.tree_leaves(a))
            if pos in self._donate_pos:
                out.extend(range(start, start + cnt))
            start += cnt
        return tuple(out)

    def _device_for(self, arrays):
        if self._device is not None:
            return self._device
        for a in arrays:
            if isinstance(a, ArrayImpl):
                return a.device
        return backends.default_device()

    # -- calling -------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if read_config('jax_disable_jit'):
            return self.fun(*args, **kwargs)
        # The hot path: a repeat call with positional arguments that are arrays, or
        # tuples, lists, dicts and None holding arrays, with nothing static or donated,
        # finds its Program in one dict lookup keyed by the arguments' structure and avals.
        key = leaves = None
        if self._direct is not None and not kwargs:
            leaves = []
            try:
                key = (_structure(args, leaves), leaves[0].device if leaves else None,
                       trace_context())
            except _NotDirect:
                key = None
            if key is not None:
                hit = self._direct.get(key)
                if hit is not None:
                    prog, consts, unflatten = hit
                    return unflatten(prog(leaves, consts))
        entry, arrays, donated = self._prepare(args, kwargs)
        if (any(isinstance(a, core_trace.Tracer) for a in arrays) or not entry.cacheable):
            outs = core_trace.eval_graph(entry.graph, *arrays)
            return self._results(entry, outs, args, kwargs)
        for a in arrays:
            if a.is_deleted():
                raise RuntimeError(f'Array has been deleted with shape={a.aval.str_short()}: '
                                   'it was donated to an earlier jit call.')
        if self._shardings is not None or entry.meshes or \
                any(type(a) is GlobalArray for a in arrays):
            outs = partition.run_sharded(entry, arrays, *self._leaf_shardings(args, kwargs, entry))
            return self._results(entry, outs, args, kwargs)
        dev = self._device_for(arrays)
        prog = self._program(entry, dev, donated)
        outs = prog(arrays, entry.graph.consts)
        for i in donated:
            arrays[i].delete()     # the Program may have reused its memory
        if (key is not None and leaves and self._device is None and not donated
                and len(leaves) == len(arrays) and all(
                    a is b and a.device is dev for a, b in zip(leaves, arrays))):
            self._direct[key] = (prog, entry.graph.consts, _unflattener(entry.out_tree))
        return self._results(entry, outs, args, kwargs)

    def _results(self, entry, outs, args, kwargs):
        """The call's results; with Ref arguments the graph's last outputs are the refs'
        final values, written back into the caller's Refs."""
        if entry.refs:
            refs = [x for x in tree_util.tree_leaves((args, kwargs)) if isinstance(x, Ref)]
            n = len(outs) - len(refs)
            for r, v in zip(refs, outs[n:]):
                r._value = v
            outs = outs[:n]
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _leaf_shardings(self, args, kwargs, entry):
        """in_shardings and out_shardings, one entry (a Sharding or None) per leaf."""
        if self._shardings is None:
            return None, None
        ins, outs = self._shardings
        leaf = lambda s: isinstance(s, Sharding)
        if ins is not None:
            ins = prefix_leaves(ins if not leaf(ins) else (ins,) * len(args), tuple(args),
                                leaf, 'jit in_shardings') + [None] * len(
                                    tree_util.tree_leaves(kwargs))
        if outs is not None:
            outs = prefix_leaves(outs, tree_util.tree_unflatten(
                entry.out_tree, entry.graph.out_avals), leaf, 'jit out_shardings')
        return ins, outs

    def _program(self, entry, dev, donated=()):
        key = (id(dev), donated)
        prog = entry.programs.get(key)
        if prog is None:
            prog = entry.programs[key] = Program(entry.graph, dev, self.fuse, donated)
        return prog

    def lower(self, *args, **kwargs):
        entry, arrays, donated = self._prepare(args, kwargs)
        if not entry.cacheable:
            raise TypeError('jit(...).lower() got a function closing over traced values')
        dev = self._device_for(arrays)
        return Lowered(self, entry, self._program(entry, dev, donated))

    def eval_shape(self, *args, **kwargs):
        entry, _, _ = self._prepare(args, kwargs)
        return tree_util.tree_unflatten(entry.out_tree, [
            ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in entry.graph.out_avals])

    def trace(self, *args, **kwargs):
        return self._prepare(args, kwargs)[0].graph

    def clear_cache(self):
        self._cache.clear()
        self._fast.clear()
        if self._direct is not None:
            self._direct.clear()

    def _cache_size(self):
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f'<jit {getattr(self.fun, "__name__", self.fun)!r}>'


def _hashable_or_id(v):
    try:
        hash(v)
        return v
    except TypeError:
        return id(v)


def _check_hashable(v):
    try:
        hash(v)
    except TypeError as e:
        raise ValueError(
            'Non-hashable static arguments are not supported. An error occurred while trying '
            f'to hash an object of type {type(v)}, {v!r}. The error was:\nTypeError: {e}\n'
            'Pass it as a tuple, or as a dynamic (array) argument.') from None
    return v


def _typed_aval(a):
    """An argument's abstract value, carrying its sharding when it is laid out on a mesh."""
    if type(a) is not GlobalArray:
        return a.aval
    v = a.aval
    return ShapedArray(v.shape, v.dtype, v.weak_type, v.vma, sharding=a.sharding)


def _ref_positions(leaves, name):
    """Positions of the Ref leaves (JAX's error if one Ref appears twice)."""
    refs, seen = [], {}
    for k, x in enumerate(leaves):
        if isinstance(x, Ref):
            if id(x) in seen:
                raise ValueError(
                    f'only one reference to a mutable array may be passed as an argument to a '
                    f'function, but when tracing {name} for jit the mutable array reference of '
                    f'type {x.aval} appeared at arguments {seen[id(x)]} and {k}')
            seen[id(x)] = k
            refs.append(k)
    return tuple(refs)


def _with_refs(flat, refs):
    """flat, given fresh Refs holding the traced values at `refs`; returns its outputs
    followed by what those Refs hold at the end."""
    def f(*xs):
        boxes = [Ref(xs[k]) for k in refs]
        xs = list(xs)
        for k, b in zip(refs, boxes):
            xs[k] = b
        outs = flat(*xs)
        if any(isinstance(o, Ref) for o in outs):
            raise ValueError(f'function {flat.__name__} traced for jit returned a mutable array '
                             'reference, but mutable array references cannot be returned; '
                             'return its value (ref[...]) instead')
        return list(outs) + [b._value for b in boxes]
    f.__name__ = flat.__name__
    return f


def _leaf_array(x, what):
    if isinstance(x, Array):
        return x
    if isinstance(x, (bool, int, float, complex, np.ndarray, np.generic)) or \
            hasattr(x, '__cuda_array_interface__'):
        return core_trace.as_array(x)
    raise TypeError(f'Error interpreting {what} to a jit-compiled function: value {x!r} of '
                    f'type {type(x)} is not a valid JAX type (arrays, scalars, and pytrees '
                    'of them). Mark it static (static_argnums) if it is a Python value.')


class Lowered:
    """What `jit(f).lower(*args)` returns: the optimised graph and the generated CUDA C."""

    def __init__(self, jitfn, entry, program):
        self._jit, self._entry, self.program = jitfn, entry, program

    def as_text(self):
        prog = self.program
        owner = {}
        for s in prog.steps:
            label = s.kernel.name if s.kind == 'kernel' else (
                'cuBLAS/NumPy matmul' if s.kind == 'dot' else f'opaque ({s.eqn.prim.name})')
            for e in (s.kernel.eqns if s.kind == 'kernel' else [s.eqn]):
                owner.setdefault(id(e), []).append(label)
        lines = pretty_print(prog.graph).split('\n')
        eqn_lines = lines[1:1 + len(prog.graph.eqns)] if prog.graph.eqns else []
        width = max((len(x) for x in eqn_lines), default=0)
        out = [lines[0]]
        for e, ln in zip(prog.graph.eqns, eqn_lines):
            out.append(f'{ln.ljust(width)}  # {", ".join(owner.get(id(e), ["?"]))}')
        out += lines[1 + len(eqn_lines):]
        out.append('')
        out.append(f'{len(prog.kernels)} kernel(s), {len(prog.steps)} step(s)'
                   f'{"" if prog.fused else " (fusion off)"}:')
        for s in prog.steps:
            if s.kind == 'kernel':
                k = s.kernel
                out.append(f'  {k.name}: {k.kind} over {list(k.shape)} fuses '
                           f'{"+".join(k.prims)}; reads {k.bytes_read} B, writes '
                           f'{k.bytes_written} B, {k.flops} flops')
            else:
                out.append(f'  {s.eqn.prim.name}: {s.kind}')
        return '\n'.join(out)

    def as_cuda(self):
        return self.program.source()

    def compile(self):
        self.program._compile()
        return Compiled(self)


class Compiled:
    def __init__(self, lowered):
        self.lowered, self.program = lowered, lowered.program

    @property
    def kernels(self):
        return [dict(name=k.name, kind=k.kind, prims=list(k.prims), shape=k.shape,
                     bytes_read=k.bytes_read, bytes_written=k.bytes_written, flops=k.flops)
                for k in self.program.kernels]

    def cost_analysis(self):
        ks = self.program.kernels
        return {'flops': sum(k.flops for k in ks),
                'bytes accessed': sum(k.bytes_read + k.bytes_written for k in ks),
                'kernels': len(ks)}

    def as_text(self):
        return self.lowered.as_text()

    def as_cuda(self):
        return self.lowered.as_cuda()

    def __call__(self, *args, **kwargs):
        return self.lowered._jit(*args, **kwargs)


def _unflattener(treedef):
    if treedef.kind == 'leaf':
        return lambda outs: outs[0]
    return functools.partial(tree_util.tree_unflatten, treedef)


class _NotDirect(Exception):
    """An argument the direct cache does not handle (the general path takes the call)."""


def _structure(x, leaves):
    """A hashable picture of x's pytree structure with each array's aval in its place,
    appending the arrays to `leaves` in tree_flatten's order; raises _NotDirect for
    anything else (tracers, deleted arrays, scalars, custom nodes, namedtuples)."""
    t = type(x)
    if t is ArrayImpl:
        if type(x._buf) is _DeletedBuffer:
            raise _NotDirect
        leaves.append(x)
        return x.aval
    if t is tuple or t is list:
        return t, tuple([_structure(c, leaves) for c in x])
    if t is dict:
        try:
            keys = sorted(x)
        except TypeError:
            raise _NotDirect from None
        return dict, tuple(keys), tuple([_structure(x[k], leaves) for k in keys])
    if x is None:
        return None
    raise _NotDirect
