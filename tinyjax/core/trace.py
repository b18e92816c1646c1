"""Tracing: the stack of graph builders, `bind`, `make_graph` and `eval_graph`.

Every primitive application goes through `bind`. With no builder active it runs
eagerly (the primitive's NumPy/CuPy rule on the arguments' buffers). Inside
`make_graph` it is recorded as an equation of the innermost builder; a value from an
enclosing builder (or a concrete array) becomes a constant of the inner graph, which
is what lets transforms nest: each traces to a Graph, rewrites it, and runs the result
with `eval_graph` in whatever context surrounds it.

A builder made with `concrete=True` also computes every value eagerly, so tracers
know their concrete value and Python control flow works (JAX's grad outside jit).
"""
import contextlib
import threading

import numpy as np

from tinyjax import dtypes, errors
from tinyjax.core.array import Array, ArrayImpl, default_device
from tinyjax.core.ir import Eqn, Graph, Literal, ShapedArray, Var


class _ThreadState(threading.local):
    """Tracing state is per thread, as JAX's is: one thread tracing (grad, vmap, jit) does
    not see another's builders, and eager ops in another thread stay eager. Graphs and
    compiled Programs hold no tracing state, so threads share them freely."""

    def __init__(self):
        self.stack = []            # active GraphBuilders, innermost last
        self.compiled_depth = 0    # > 0 while a compiled Program runs in this thread


thread_state = _ThreadState()


@contextlib.contextmanager
def outside_traces():
    """Run eagerly inside, whatever this thread is tracing (a primitive's eager graph)."""
    saved = thread_state.stack
    thread_state.stack = []
    try:
        yield
    finally:
        thread_state.stack = saved


class Tracer(Array):
    __slots__ = ('builder', 'var', 'aval', 'concrete')

    def __init__(self, builder, var, concrete=None):
        self.builder, self.var, self.aval, self.concrete = builder, var, var.aval, concrete

    def _need_concrete(self, what):
        if self.concrete is not None:
            return self.concrete
        raise errors.ConcretizationTypeError(self, what)

    def __bool__(self):
        if self.concrete is None:
            raise errors.TracerBoolConversionError(self, 'bool() (a Python `if` or `while`)')
        return bool(self.concrete)

    def __float__(self):
        return float(self._need_concrete('float()'))

    def __int__(self):
        return int(self._need_concrete('int()'))

    def __complex__(self):
        return complex(self._need_concrete('complex()'))

    def __index__(self):
        return self._need_concrete('an index (__index__)').__index__()

    def item(self, *args):
        return self._need_concrete('.item()').item(*args)

    def tolist(self):
        return self._need_concrete('.tolist()').tolist()

    def __array__(self, dtype=None, copy=None):
        if self.concrete is not None:
            return self.concrete.__array__(dtype)
        raise errors.TracerArrayConversionError(self)

    def __hash__(self):
        raise TypeError('unhashable type: tinyjax Tracer')

    def __repr__(self):
        return f'Traced<{self.aval.str_short()}>with<{self.builder.name}>'


class GraphBuilder:
    """Records equations for one level of tracing."""

    def __init__(self, concrete=False, name='trace'):
        self.concrete = concrete
        self.name = name
        self.eqns = []
        self.constvars = []
        self.consts = []
        self._const_ids = {}
        self.active = False

    def new_input(self, aval, concrete=None):
        return Tracer(self, Var(aval), concrete if self.concrete else None)

    def atom(self, x):
        """The Var or Literal that stands for argument `x` in this graph."""
        if isinstance(x, Tracer) and x.builder is self:
            return x.var
        if isinstance(x, Tracer):
            if not x.builder.active:
                raise errors.UnexpectedTracerError(x)
        elif not isinstance(x, ArrayImpl):
            raise TypeError(f'{type(x).__name__} is not an array')
        if isinstance(x, ArrayImpl) and x.ndim == 0:
            return Literal(x, x.aval)
        key = id(x)
        if key not in self._const_ids:
            v = Var(x.aval)
            self._const_ids[key] = v
            self.constvars.append(v)
            self.consts.append(x)
        return self._const_ids[key]

    def concrete_of(self, x):
        if isinstance(x, Tracer):
            return x.concrete
        return x

    def process(self, prim, args, params):
        atoms, vmas = _typing(self, prim, [self.atom(a) for a in args], params)
        out_avals = prim.abstract_eval(*[a.aval for a in atoms], **params)
        multi = prim.multiple_results
        if not multi:
            out_avals = [out_avals]
        if vmas is not None:
            out_avals = [a.update(vma=v) for a, v in zip(out_avals, vmas)]
        concrete = [None] * len(out_avals)
        # An effect runs when the graph runs; a collective (spmd) only across devices.
        if self.concrete and not prim.effectful and not getattr(prim, 'spmd', None):
            cvals = [self.concrete_of(a) for a in args]
            if all(c is not None for c in cvals):
                concrete = eager_apply(prim, cvals, params, out_avals)
        outs = [Var(a) for a in out_avals]
        self.eqns.append(Eqn(prim, atoms, params, outs))
        tracers = [Tracer(self, v, c) for v, c in zip(outs, concrete)]
        return tracers if multi else tracers[0]


def as_array(x):
    if isinstance(x, Array):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return _host_array(np.asarray(x, dtypes.python_scalar_dtype(x)), not isinstance(x, bool))
    if isinstance(x, (np.ndarray, np.generic)):
        return _host_array(np.asarray(x, dtypes.canonicalize(x.dtype)), False)
    if hasattr(x, '__cuda_array_interface__') or hasattr(x, '__dlpack__'):
        dev = default_device()
        return ArrayImpl(dev.import_buffer(x), dev, False)
    raise TypeError(f'Value {x!r} of type {type(x).__name__} is not a valid tinyjax type')


def _host_array(value, weak):
    dev = default_device()
    return ArrayImpl(dev.put(value), dev, weak)


# Inside a shard_map body (check_vma) operands that differ in the mesh axes they vary
# along meet through an identity `pvary`, and each output gets its varying axes:
# typing(builder, prim, atoms, params) -> (atoms, the outputs' vma or None). ops sets it.
def _typing(builder, prim, atoms, params):
    return atoms, None


def set_typing(fn):
    global _typing
    _typing = fn


_nan_check = None


def set_nan_check(fn):
    global _nan_check
    _nan_check = fn


@contextlib.contextmanager
def compiled_region():
    """A compiled program runs inside: opaque steps bind eagerly (outside any trace), and
    control-flow bodies reached through `run_graph` run compiled (`set_graph_runner`).
    (The Program's own dispatch path does the same inline, without a context manager.)"""
    state = thread_state
    saved = state.stack
    state.stack = []
    state.compiled_depth += 1
    try:
        yield
    finally:
        state.compiled_depth -= 1
        state.stack = saved


def eager_apply(prim, vals, params, out_avals=None):
    """Run `prim` on concrete arrays with its NumPy/CuPy rule."""
    for v in vals:
        if v.apply_sharded is not None:
            return v.apply_sharded(prim, vals, params)
    if out_avals is None:
        out_avals = prim.abstract_eval(*[v.aval for v in vals], **params)
        if not prim.multiple_results:
            out_avals = [out_avals]
    if prim.eager is not None:
        # Run the primitive's graph on concrete arrays, outside any trace in progress.
        with outside_traces():
            outs = prim.eager(*vals, **params)
        return list(outs) if prim.multiple_results else [outs]
    dev = vals[0].device if vals else default_device()
    for v in vals[1:]:
        if v.device is not dev:
            dev = dev.common(v.device)
    bufs = [dev.accept(v) for v in vals]
    # The device's context makes its GPU and stream current (a no-op on the CPU), so the
    # op runs where its operands live and in order with that device's other work.
    with dev.context(), np.errstate(all='ignore'):     # JAX computes inf/nan silently
        outs = prim.impl(dev.xp, *bufs, **params)
        if not prim.multiple_results:
            outs = [outs]
        result = []
        for o, aval in zip(outs, out_avals):
            o = dev.xp.asarray(o)
            if o.dtype != aval.dtype:
                o = o.astype(aval.dtype)
            if o.shape != aval.shape:
                raise AssertionError(f'{prim.name}: rule gave shape {o.shape}, expected {aval.shape}')
            result.append(ArrayImpl(o, dev, aval.weak_type))
    if _nan_check is not None:
        _nan_check(prim, result)
    return result


def bind(prim, args, params):
    args = [as_array(a) for a in args]
    stack = thread_state.stack
    if stack:
        return stack[-1].process(prim, args, params)
    for a in args:
        if isinstance(a, Tracer):      # leaked from a trace that has finished
            raise errors.UnexpectedTracerError(a)
    outs = eager_apply(prim, args, params)
    return outs if prim.multiple_results else outs[0]


def current_builder():
    stack = thread_state.stack
    return stack[-1] if stack else None


def make_graph(f, in_values, concrete=False, name=None):
    """Trace `f` (a function of a flat list of arrays returning a flat list) to a Graph.

    `in_values` are ShapedArrays (abstract tracing) or arrays; with `concrete=True`
    the tracers also carry the arrays' concrete values.
    """
    builder = GraphBuilder(concrete, name or getattr(f, '__name__', 'fun'))
    ins = []
    for v in in_values:
        aval = v if isinstance(v, ShapedArray) else as_array(v).aval
        c = None
        if concrete and not isinstance(v, ShapedArray):
            c = v.concrete if isinstance(v, Tracer) else as_array(v)
        ins.append(builder.new_input(aval, c))
    stack = thread_state.stack
    stack.append(builder)
    builder.active = True
    try:
        outs = f(*ins)
        outs = [as_array(o) for o in outs]
        outvars = [builder.atom(o) for o in outs]
    finally:
        builder.active = False
        stack.pop()
    graph = Graph([t.var for t in ins], builder.eqns, outvars, builder.constvars, builder.consts)
    return graph, outs


def eval_graph(graph, *args):
    """Evaluate `graph` on `args` in the current context (eagerly, or into a trace)."""
    return eval_jaxpr(graph, graph.consts, *args)


def eval_jaxpr(jaxpr, consts, *args, propagate_source_info=True):
    """Evaluate a graph with `consts` bound to its constvars (JAX's core.eval_jaxpr):
    each equation binds its primitive, so this runs eagerly or records into a trace."""
    env = {}

    def read(a):
        return a.val if isinstance(a, Literal) else env[a]

    if len(consts) != len(jaxpr.constvars):
        raise TypeError(f'eval_jaxpr: the graph has {len(jaxpr.constvars)} constvars, '
                        f'got {len(consts)} consts')
    if len(args) != len(jaxpr.invars):
        raise TypeError(f'eval_jaxpr: the graph takes {len(jaxpr.invars)} arguments, '
                        f'got {len(args)}')
    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for e in jaxpr.eqns:
        outs = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
        if not e.prim.multiple_results:
            outs = [outs]
        for v, o in zip(e.outputs, outs):
            env[v] = o
    return [read(a) for a in jaxpr.outvars]


def jaxpr_as_fun(closed_jaxpr):
    """The ClosedJaxpr as a function of its inputs returning the list of its outputs."""
    def fun(*args):
        return eval_jaxpr(closed_jaxpr.jaxpr, closed_jaxpr.consts, *args)
    return fun


# Loop and branch bodies (scan, while_loop, cond) run through run_graph. Inside a
# compiled program the compiler registers a runner that compiles each body once, so a
# loop's iterations run fused kernels instead of one primitive at a time.
_graph_runner = None


def set_graph_runner(fn):
    global _graph_runner
    _graph_runner = fn


def run_graph(graph, *args):
    """eval_graph for the bodies of control flow, compiled when running under jit."""
    if _graph_runner is not None and thread_state.compiled_depth and not thread_state.stack and \
            all(isinstance(a, ArrayImpl) for a in args):
        return _graph_runner(graph, args)
    return eval_graph(graph, *args)
