"""The graph IR: abstract values, variables, equations and graphs (like JAX's jaxpr)."""
import enum
import itertools
import math

import numpy as np

from tinyjax import dtypes


class ShapedArray:
    """The abstract value of an array: its shape, dtype and whether it is weakly typed."""
    __slots__ = ('shape', 'dtype', 'weak_type')

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))

    def update(self, shape=None, dtype=None, weak_type=None):
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak(self):
        return self.update(weak_type=False)

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def str_short(self):
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        w = ', weak_type=True' if self.weak_type else ''
        return f'ShapedArray({self.str_short()}{w})'


class Var:
    """A value in a graph, defined once (SSA)."""
    __slots__ = ('aval', '__weakref__')

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f'Var({self.aval.str_short()})'


class Literal:
    """A scalar constant written inline in an equation."""
    __slots__ = ('val', 'aval')

    def __init__(self, val, aval):
        self.val = val
        self.aval = aval

    def __repr__(self):
        return f'Literal({self.val!r})'


class Eqn:
    __slots__ = ('prim', 'inputs', 'params', 'outputs')

    def __init__(self, prim, inputs, params, outputs):
        self.prim, self.inputs, self.params, self.outputs = prim, list(inputs), dict(params), list(outputs)

    def __repr__(self):
        return f'Eqn({self.prim.name})'


class Graph:
    """invars -> eqns -> outvars. constvars are bound to `consts` (arrays) when evaluated."""

    def __init__(self, invars, eqns, outvars, constvars=(), consts=()):
        self.invars, self.eqns, self.outvars = list(invars), list(eqns), list(outvars)
        self.constvars, self.consts = list(constvars), list(consts)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        return pretty_print(self)

    __repr__ = __str__


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

    def __repr__(self):
        return f'ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})'

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))
