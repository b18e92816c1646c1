"""The graph IR: abstract values, variables, equations and graphs (like JAX's jaxpr)."""
import collections
import enum
import itertools
import math

import numpy as np

from tinyjax import dtypes


ManualAxisType = collections.namedtuple('ManualAxisType', 'varying unreduced reduced')


class ShapedArray:
    """An array's shape, dtype, weak type, `vma` (inside a shard_map body: the mesh axes it
    may differ along, JAX's varying manual axes) and `sharding` (a jit argument's layout,
    and what jax.typeof reports; no part of equality)."""
    __slots__ = ('shape', 'dtype', 'weak_type', 'vma', 'sharding')

    def __init__(self, shape, dtype, weak_type=False, vma=frozenset(), sharding=None):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self.vma = frozenset(vma)
        self.sharding = sharding

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))
    mat = manual_axis_type = property(
        lambda self: ManualAxisType(self.vma, frozenset(), frozenset()))

    def update(self, shape=None, dtype=None, weak_type=None, vma=None):
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type,
                           self.vma if vma is None else vma)

    def strip_weak(self):
        return self.update(weak_type=False)

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape and self.dtype
                == other.dtype and self.weak_type == other.weak_type and self.vma == other.vma)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type, self.vma))

    def str_short(self):
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def _text(self):
        return f"{self.dtype.name}[{','.join(map(str, self.shape))}]"

    def __str__(self):   # JAX's spelling: float32[3,4], ~float32[] when weak, {V:x} varying
        vma = ','.join(sorted(map(str, self.vma)))
        return ('~' if self.weak_type else '') + self._text() + (
            '' if not self.vma else f'{{V:{vma}}}' if len(self.vma) == 1 else f'{{V:({vma})}}')

    def __repr__(self):
        w = ', weak_type=True' if self.weak_type else ''
        return f'ShapedArray({self._text()}{w})'


class Var:
    """A value in a graph, defined once (SSA)."""
    __slots__ = ('aval', '__weakref__')

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f'Var(id={id(self)}):{self.aval._text()}'   # no weak-type mark, as JAX


class Literal:
    """A scalar constant written inline in an equation."""
    __slots__ = ('val', 'aval')

    def __init__(self, val, aval):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return f'Literal({np.asarray(self.val).item()!r})'


class Eqn:
    """One equation: `outputs = prim[params](*inputs)`.

    The fields also answer to JAX's names (`primitive`, `invars`, `outvars`, `params`,
    `effects`), so interpreters written against JAX's jaxpr walk tinyjax's graphs."""
    __slots__ = ('prim', 'inputs', 'params', 'outputs')

    def __init__(self, prim, inputs, params, outputs):
        self.prim, self.inputs, self.params, self.outputs = prim, list(inputs), dict(params), list(outputs)

    primitive = property(lambda self: self.prim)
    invars = property(lambda self: self.inputs)
    outvars = property(lambda self: self.outputs)
    effects = property(lambda self: _effects_of(self))

    def replace(self, primitive=None, invars=None, params=None, outvars=None):
        """A copy with the given fields changed (JAX's JaxprEqn.replace)."""
        return Eqn(self.prim if primitive is None else primitive,
                   self.inputs if invars is None else invars,
                   self.params if params is None else params,
                   self.outputs if outvars is None else outvars)

    def __repr__(self):
        return f'Eqn({self.prim.name})'


class Effect:
    """What JAX lists in a jaxpr's `effects`: an effectful primitive talks to the host
    (debug_callback, io_callback); an ordered one must keep its order with the others."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


io_effect = Effect('IOEffect')
ordered_io_effect = Effect('OrderedIOEffect')


def _effects_of(eqn):
    if not eqn.prim.effectful:
        return frozenset()
    rule = eqn.prim.effects_rule
    return frozenset(rule(**eqn.params) if rule is not None else [io_effect])


class Graph:
    """invars -> eqns -> outvars. constvars are bound to `consts` (arrays) when evaluated."""

    def __init__(self, invars, eqns, outvars, constvars=(), consts=()):
        self.invars, self.eqns, self.outvars = list(invars), list(eqns), list(outvars)
        self.constvars, self.consts = list(constvars), list(consts)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])
    # A Graph holds its consts, so it is also a closed jaxpr: graphs in the params of
    # control flow (cond's `branches`) answer `.jaxpr` and `.consts` as JAX's do.
    jaxpr = property(lambda self: self)
    literals = property(lambda self: self.consts)
    effects = property(lambda self: frozenset().union(*[e.effects for e in self.eqns]))
    debug_info = None

    def __str__(self):
        return pretty_print(self)

    __repr__ = __str__

    def pretty_print(self):
        return pretty_print(self)


class _GraphTypeCheck(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Graph)


class Jaxpr(Graph, metaclass=_GraphTypeCheck):
    """JAX's constructor order for a Graph: `Jaxpr(constvars, invars, outvars, eqns)`.
    Every Graph counts as a Jaxpr (`isinstance(graph, Jaxpr)`); constants are supplied
    separately, by a ClosedJaxpr or to `eval_jaxpr`."""

    def __init__(self, constvars, invars, outvars, eqns, effects=frozenset(), debug_info=None):
        super().__init__(invars, eqns, outvars, constvars, ())


class ClosedJaxpr:
    """A graph with values for its constvars: what `make_jaxpr` returns. `.jaxpr` is
    the Graph itself; `.consts` (also `.literals`) the values of its constvars."""

    def __init__(self, jaxpr, consts):
        if len(consts) != len(jaxpr.constvars):
            raise TypeError(f'ClosedJaxpr: {len(jaxpr.constvars)} constvars but '
                            f'{len(consts)} consts given')
        self.jaxpr, self.consts = jaxpr, list(consts)

    literals = property(lambda self: self.consts)
    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)
    effects = property(lambda self: self.jaxpr.effects)

    def replace(self, jaxpr=None, consts=None):
        return ClosedJaxpr(self.jaxpr if jaxpr is None else jaxpr,
                           self.consts if consts is None else consts)

    def __str__(self):
        return pretty_print(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self):
        return pretty_print(self.jaxpr)


def _has_graph(v):
    return isinstance(v, Graph) or (isinstance(v, (list, tuple)) and any(isinstance(x, Graph) for x in v))


def _fmt_param(v, indent=0):
    """A parameter as text; graphs (control flow, custom rules) print nested, indented
    to `indent` columns as JAX prints a jaxpr's sub-jaxprs."""
    pad = '\n' + ' ' * indent
    if isinstance(v, Graph):
        return pretty_print(v).replace('\n', pad)
    if isinstance(v, (list, tuple)) and _has_graph(v):
        inner = ''.join(pad + '  ' + _fmt_param(x, indent + 2) for x in v)
        return '(' + inner + pad + ')'
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, tuple) and hasattr(v, '_fields'):
        return repr(v)          # a namedtuple (ConvDimensionNumbers), as JAX prints it
    if isinstance(v, (list, tuple)):
        return '(' + ', '.join(_fmt_param(x) for x in v) + (',)' if len(v) == 1 else ')')
    if isinstance(v, enum.Enum):
        return repr(v)          # Precision.HIGH, as JAX prints it
    if callable(v) and hasattr(v, '__name__'):
        return v.__name__
    return repr(v) if isinstance(v, str) else str(v)


def _names():
    letters = 'abcdefghijklmnopqrstuvwxyz'
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            yield ''.join(combo)


def pretty_print(graph):
    names, gen = {}, _names()

    def name(v):
        if isinstance(v, Literal):
            val = v.val.item() if hasattr(v.val, 'item') else v.val
            return f'{val}:{v.aval.str_short()}'
        if v not in names:
            names[v] = next(gen)
        return names[v]

    def decl(v):
        return f'{name(v)}:{v.aval.str_short()}'

    consts = ' '.join(decl(v) for v in graph.constvars)
    ins = ' '.join(decl(v) for v in graph.invars)
    lines = []
    for e in graph.eqns:
        outs = ' '.join(decl(v) for v in e.outputs)
        params = ''
        shown = sorted((k, v) for k, v in e.params.items()
                       if v is not None or k not in e.prim.quiet_params)
        if any(_has_graph(v) for _, v in shown):
            # One parameter per line, nested graphs indented beneath (as JAX prints).
            params = '[' + ''.join(f'\n      {k}={_fmt_param(v, 6)}' for k, v in shown) + '\n    ]'
        elif shown:
            params = '[' + ' '.join(f'{k}={_fmt_param(v)}' for k, v in shown) + ']'
        args = ' '.join(name(v) for v in e.inputs)
        lines.append(f'    {outs} = {e.prim.name}{params} {args}')
    outs = ', '.join(name(v) for v in graph.outvars)
    outs = f'({outs},)' if len(graph.outvars) == 1 else f'({outs})'
    head = f'{{ lambda {consts}; {ins}. let'
    if not lines:
        return f'{head}  in {outs} }}'
    return head + '\n' + '\n'.join(lines) + f'\n  in {outs} }}'


def dce(graph):
    """Drop equations whose outputs nothing uses (effectful ones stay)."""
    live = {v for v in graph.outvars if isinstance(v, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if e.prim.effectful or any(v in live for v in e.outputs):
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
    kept.reverse()
    used_consts = [(v, c) for v, c in zip(graph.constvars, graph.consts) if v in live]
    return Graph(graph.invars, kept, graph.outvars, [v for v, _ in used_consts],
                 [c for _, c in used_consts])


class ShapeDtypeStruct:
    def __init__(self, shape, dtype, weak_type=False):
        self.shape, self.dtype, self.weak_type = tuple(shape), np.dtype(dtype), weak_type

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @classmethod
    def like(cls, x):
        """The shape, dtype and weak type of x (an array, tracer, NumPy array, Python
        scalar or another ShapeDtypeStruct), the dtype canonicalized as jnp.asarray would
        (int64 -> int32 without x64)."""
        if isinstance(x, ShapeDtypeStruct):
            return cls(x.shape, x.dtype, x.weak_type)
        if hasattr(x, 'aval'):
            return cls(x.aval.shape, x.aval.dtype, x.aval.weak_type)
        if isinstance(x, (bool, int, float, complex)):
            return cls((), dtypes.canonicalize(dtypes.python_scalar_dtype(x)),
                       not isinstance(x, bool))
        x = np.asarray(x)
        return cls(x.shape, dtypes.canonicalize(x.dtype))

    def __repr__(self):
        weak = ', weak_type=True' if self.weak_type else ''
        return f'ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})'

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))
