"""CUDA C for fused groups: the value emitter and elementwise (loop) kernels.

A fused kernel computes its output values at one index per loop iteration. The emitter
produces the C for "value of var v at index idx", recursively: an elementwise equation
evaluates its operands at the same index, a structural one (broadcast, transpose,
reshape, slice, rev, pad, concatenate) evaluates its operand at a mapped index, iota is
the index itself, and a value from outside the group is a load from its buffer with
stride arithmetic. Indices are tuples of C expressions; the kernel's own index uses the
names i0, i1, ... (r*/j* in row kernels), so a value read at the kernel's own index is
recognised by plain string equality and read at `i` (the contiguous fast path).
Results are memoised per (var, index), so a value used twice is computed once.

Generated code is header-free C++ accepted by both NVRTC and g++ (with the host shim):
see kernels/tj_common.cuh for the helpers (tj_*) the primitives' lowerings name.
"""
import math
import re

import numpy as np

from tinyjax import dtypes
from tinyjax.compiler.lowering import Elementwise, IndexMap
from tinyjax.core.ir import Literal, Var

CODEGEN_VERSION = '4'
BLOCK = 256

_CTYPE = {
    dtypes.bool_: 'bool', dtypes.int8: 'signed char', dtypes.uint8: 'unsigned char',
    dtypes.int16: 'short', dtypes.uint16: 'unsigned short', dtypes.int32: 'int',
    dtypes.uint32: 'unsigned int', dtypes.int64: 'long long',
    dtypes.uint64: 'unsigned long long', dtypes.float16: 'float', dtypes.bfloat16: 'float',
    dtypes.float32: 'float', dtypes.float64: 'double',
}
HALF = (dtypes.float16, dtypes.bfloat16)


class NotFusible(Exception):
    """The group cannot be generated as one kernel (the partitioner then splits it)."""


def ctype(dtype):
    """The C type a value of `dtype` is computed in (float16/bfloat16 compute in float)."""
    try:
        return _CTYPE[np.dtype(dtype)]
    except KeyError:
        raise NotFusible(f'dtype {np.dtype(dtype).name} has no kernel type') from None


def storage_type(dtype):
    dtype = np.dtype(dtype)
    return 'unsigned short' if dtype in HALF else ctype(dtype)


def supported_dtype(dtype):
    return np.dtype(dtype) in _CTYPE


def lowering_template(e, var):
    """The C expression template for output `var` of e (an Elementwise lowering), or None."""
    low = e.prim.lowering
    return low.template(e, var) if isinstance(low, Elementwise) else None


def headers_needed(eqns):
    return sorted({e.prim.lowering.header for e in eqns
                   if isinstance(e.prim.lowering, Elementwise) and e.prim.lowering.header})


def is_fusible(e):
    """Elementwise or index-map work the emitter can generate."""
    low = e.prim.lowering
    if not isinstance(low, (Elementwise, IndexMap)):
        return False
    multi = isinstance(low, Elementwise) and low.outputs is not None
    if (e.prim.multiple_results or len(e.outputs) != 1) and not multi:
        return False
    if multi and (len({o.aval.shape for o in e.outputs}) != 1 or low.statement is None):
        return False
    if isinstance(low, Elementwise) and any(low.template(e, o) is None for o in e.outputs):
        return False
    avals = [o.aval for o in e.outputs] + [a.aval for a in e.inputs]
    if not all(supported_dtype(a.dtype) for a in avals):
        return False
    return low.half_ok or e.outputs[0].aval.dtype not in HALF


def c_literal(value, dtype):
    """A C expression for a scalar of `dtype` in its compute type."""
    dtype = np.dtype(dtype)
    ct = ctype(dtype)
    v = np.asarray(value).astype(dtype if dtype not in HALF else np.float32).reshape(())
    if dtype == dtypes.bool_:
        return 'true' if bool(v) else 'false'
    if dtypes.is_int(dtype):
        iv = int(v)
        if dtype == dtypes.int64 and iv == np.iinfo(np.int64).min:
            return '(-9223372036854775807LL - 1)'
        suffix = 'ULL' if dtypes.is_unsigned(dtype) else 'LL'
        return f'(({ct}){iv}{suffix})'
    if ct == 'float':
        f = np.float32(v)
        if not np.isfinite(f):
            return f'tj_f32_bits({int(f.view(np.uint32))}u)'
        return f'({np.format_float_scientific(f, unique=True)}f)'
    d = np.float64(v)
    if not np.isfinite(d):
        return f'tj_f64_bits({int(d.view(np.uint64))}ull)'
    return f'({np.format_float_scientific(d, unique=True)})'


def index_mul(a, b):
    if a == '0' or b == '0':
        return '0'
    if a == '1':
        return b
    if b == '1':
        return a
    return f'{a} * {b}'


def index_add(a, b):
    if a == '0':
        return b
    if b == '0':
        return a
    return f'{a} + {b}'


def strides(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


class Space:
    """The index space a kernel iterates: how its canonical indices are named.

    `names(shape)` gives the canonical index tuple for a value of `shape` that lines up
    with the space (same non-unit axes), or None. `flat(shape, idx)` is the fast linear
    offset for such a value at the canonical index, or None.
    """

    def __init__(self, shape, prefix, flat_name):
        self.shape = tuple(shape)
        self.prefix, self.flat_name = prefix, flat_name
        self.big = [s for s in self.shape if s != 1]

    def names(self, shape):
        if [s for s in shape if s != 1] != self.big:
            return None
        out, k = [], 0
        for s in shape:
            if s == 1:
                out.append('0')
            else:
                out.append(f'{self.prefix}{k}')
                k += 1
        return tuple(out)

    def flat(self, shape, idx):
        names = self.names(shape)
        return self.flat_name if names is not None and tuple(idx) == names else None

    def declare(self, var, itype):
        """Lines unravelling the flat counter `var` into the canonical names."""
        big = self.big
        lines = []
        for k, s in enumerate(big):
            inner = math.prod(big[k + 1:])
            expr = var if inner == 1 else f'{var} / {inner}'
            if k > 0:
                expr = f'({expr}) % {s}'
            lines.append(f'const {itype} {self.prefix}{k} = {expr};')
        return lines


class Emitter:
    """Generates the statements computing values of a fused group."""

    def __init__(self, eqns, itype, spaces):
        self.defs = {}
        for e in eqns:
            for o in e.outputs:
                self.defs[o] = e
        self.itype = itype
        self.spaces = spaces           # Space objects, tried in order for fast offsets
        self.params = {}               # input var -> parameter name
        self.scatter_reads = set()     # inputs read anywhere but at the kernel's own index
        self.scopes = [([], {})]       # (lines, memo) stack, innermost last
        self.inner_pattern = None      # regex of index names bound only in the inner scope
        self.reductions = {}           # var -> (C name, canonical index) once computed
        self.pending = set()           # reduction vars of the group not computed yet
        self.inner_names = set()       # temporaries declared inside the inner loop
        self.n_tmp = 0
        self.flops = 0

    # -- scopes ---------------------------------------------------------------------
    def _tmp(self, prefix='v'):
        self.n_tmp += 1
        return f'{prefix}{self.n_tmp}'

    def _scope_for(self, text):
        """Hoist values that do not depend on the inner loop's index to the outer scope."""
        if self.inner_pattern is None or len(self.scopes) == 1:
            return self.scopes[-1]
        for tok in re.findall(r'[A-Za-z_]\w*', text):
            if self.inner_pattern.fullmatch(tok) or tok in self.inner_names:
                return self.scopes[-1]
        return self.scopes[0]

    def _per_row(self, text):
        """Whether `text` is computed outside the inner loop (once per row)."""
        return len(self.scopes) > 1 and self._scope_for(text) is self.scopes[0]

    def _declare(self, scope, name, text):
        scope[0].append(text)
        if scope is not self.scopes[0]:
            self.inner_names.add(name)

    def push(self):
        self.scopes.append(([], {}))

    def pop(self):
        return self.scopes.pop()[0]

    def branches(self, ct, cases):
        """A value only its applying case computes: cases are (C condition, or None for
        the last; a function emitting the case's value), each emitted in its own scope
        inside if/else. None in row kernels, whose hoisting out of the inner loop could
        move a case's statements out of its branch (the caller then selects)."""
        if self.inner_pattern is not None:
            return None
        name, lines = self._tmp(), self.scopes[-1][0]
        self._declare(self.scopes[-1], name, f'{ct} {name};')
        for k, (cond, emit) in enumerate(cases):
            self.push()
            v = emit()
            lines += [('if' if k == 0 else '} else if') + f' ({cond}) {{' if cond else '} else {',
                      *self.pop(), f'{name} = {v};']
        lines.append('}')
        return name

    def _lookup(self, key):
        for _, memo in reversed(self.scopes):
            if key in memo:
                return memo[key]
        return None

    def _bind(self, key, ct, expr, key_text):
        name = self._tmp()
        scope = self._scope_for(key_text + ' ' + expr)
        self._declare(scope, name, f'const {ct} {name} = {expr};')
        scope[1][key] = name
        return name

    def index_temp(self, expr):
        if re.fullmatch(r'[A-Za-z_]\w*|\d+', expr):
            return expr
        name = self._tmp('t')
        self._declare(self._scope_for(expr), name, f'const {self.itype} {name} = {expr};')
        return name

    # -- values -----------------------------------------------------------------------
    def value(self, atom, idx):
        idx = tuple(idx)
        if isinstance(atom, Literal):
            return c_literal(np.asarray(atom.val), atom.aval.dtype)
        key = (atom, idx)
        hit = self._lookup(key)
        if hit is not None:
            return hit
        if atom in self.reductions:
            name, canon = self.reductions[atom]
            if idx != canon:
                raise NotFusible('a reduction result is read at another row than its own')
            return name
        if atom in self.pending:
            raise NotFusible('a reduction result is needed before it is computed')
        if atom not in self.defs:
            return self._load(atom, idx)
        e = self.defs[atom]
        if len(e.outputs) > 1:
            return self._statement(e, idx, atom)
        ct, expr = self._eqn_expr(e, idx, atom)
        key_text = ' '.join(idx) + ' ' + expr
        if re.fullmatch(r'[A-Za-z_]\w*', expr):   # a structural op that only moved an index
            self._scope_for(key_text)[1][key] = expr
            return expr
        return self._bind(key, ct, expr, key_text)

    def _statement(self, e, idx, atom):
        """A multi-result primitive: one statement computes all its outputs at idx."""
        args = [self.value(a, idx if a.aval.ndim else ()) for a in e.inputs]
        names = [self._tmp() for _ in e.outputs]
        scope = self._scope_for(' '.join(idx) + ' ' + ' '.join(args))
        for n, o in zip(names, e.outputs):
            self._declare(scope, n, f'{ctype(o.aval.dtype)} {n};')
        scope[0].append(e.prim.lowering.statement.format(*args, *names, **e.params))
        for n, o in zip(names, e.outputs):
            scope[1][(o, idx)] = n
        self.flops += 1
        return names[e.outputs.index(atom)]

    def offset(self, shape, idx):
        for sp in self.spaces:
            f = sp.flat(shape, idx)
            if f is not None:
                return f, True
        terms = [index_mul(i, str(st)) for i, st, s in zip(idx, strides(shape), shape) if s != 1]
        off = '0'
        for t in terms:
            off = index_add(off, t)
        return off, False

    def _load(self, var, idx):
        if var not in self.params:
            self.params[var] = f'in{len(self.params)}'
        p = self.params[var]
        off, _ = self.offset(var.aval.shape, idx)
        if self.spaces[0].flat(var.aval.shape, idx) != 'i':
            self.scatter_reads.add(var)   # not read where the kernel writes: no in-place reuse
        dt = var.aval.dtype
        raw = f'{p}[{off}]'
        if dt == dtypes.float16:
            raw = f'tj_h2f({raw})'
        elif dt == dtypes.bfloat16:
            raw = f'tj_bf2f({raw})'
        return self._bind((var, idx), ctype(dt), raw, ' '.join(idx) + ' ' + off)

    def _round(self, dtype, expr):
        dtype = np.dtype(dtype)
        if dtype == dtypes.float16:
            return f'tj_rnd_h({expr})'
        if dtype == dtypes.bfloat16:
            return f'tj_rnd_bf({expr})'
        return f'({ctype(dtype)})({expr})'

    def _eqn_expr(self, e, idx, var):
        """(C type, expression) of e's output `var` at idx."""
        p = e.params
        out = var.aval
        oct_ = ctype(out.dtype)
        if isinstance(e.prim.lowering, IndexMap):
            return oct_, e.prim.lowering.rule(self, e, idx)
        args = [self.value(a, idx if a.aval.ndim else ()) for a in e.inputs]
        self.flops += 1
        low = lowering_template(e, var)
        if (e.prim.lowering.reciprocal and out.dtype in (dtypes.float32, dtypes.float64)
                and isinstance(e.inputs[1], Var) and self._per_row(args[1])
                and not self._per_row(args[0])):   # rows: one divide each, then multiplies
            r = self._bind(('1/', args[1]), oct_, f'({oct_})1 / {args[1]}', args[1])
            return oct_, f'({args[0]} * {r})'
        if low == 'select':
            which, cases = args[0], args[1:]
            expr = cases[0]
            if e.inputs[0].aval.dtype == dtypes.bool_:
                expr = f'tj_select<{oct_}>({which}, {cases[1]}, {cases[0]})' \
                    if len(cases) == 2 else cases[0]
            else:
                for k in range(1, len(cases)):
                    expr = f'tj_select<{oct_}>({which} == {k}, {cases[k]}, {expr})'
            return oct_, expr
        if low == 'convert':
            return oct_, self._convert(args[0], e.inputs[0].aval.dtype, out.dtype)
        expr = low.format(*args, **p)
        return oct_, self._round(out.dtype, expr)

    def _convert(self, x, src, dst):
        src, dst = np.dtype(src), np.dtype(dst)
        if dst == dtypes.bool_:
            return f'({x} != ({ctype(src)})0)'
        if dtypes.is_float(src) and dtypes.is_int(dst):
            info = np.iinfo(dst)
            lo, hi = c_literal(info.min, dst), c_literal(info.max, dst)
            return f'tj_f2i<{ctype(dst)}, {ctype(src)}>({x}, {lo}, {hi})'
        if src == dtypes.bool_:   # via int: g++ 12 vectorises no bool -> float conversion
            return self._round(dst, f'(int)({x})')
        return self._round(dst, x)

    # -- index maps: the operand's index for an output index ---------------------------
    def reshape_index(self, out_shape, idx, in_shape):
        if [s for s in out_shape if s != 1] == [s for s in in_shape if s != 1]:
            big = iter([i for i, s in zip(idx, out_shape) if s != 1])
            return tuple('0' if s == 1 else next(big) for s in in_shape)
        flat, _ = self.offset(out_shape, idx)
        flat = self.index_temp(flat)
        res, first = [], True
        for s, st in zip(in_shape, strides(in_shape)):
            if s == 1:
                res.append('0')
                continue
            expr = flat if st == 1 else f'({flat}) / {st}'
            if not first:
                expr = f'({expr}) % {s}'
            first = False
            res.append(self.index_temp(expr))
        return tuple(res)


def store_expr(dtype, value):
    dtype = np.dtype(dtype)
    if dtype == dtypes.float16:
        return f'tj_f2h({value})'
    if dtype == dtypes.bfloat16:
        return f'tj_f2bf({value})'
    return value


def index_type(sizes):
    """32-bit indices when every size (and the stride loop's overshoot) fits in int."""
    return 'int' if max(sizes, default=0) < 2 ** 31 - 2 ** 26 else 'long long'


def signature(emitter, outputs, scalar, in_place=False):
    """The kernel's parameters. With in_place (loop kernels), the buffer plan may hand an
    output the memory of an input read only at the kernel's own index, so neither
    carries __restrict__: a restrict pointer promises the compiler no other pointer
    touches its memory, and g++ used that promise to store a constant output before
    loading the input it overwrote (a jitted `full(...)` beside `c * v` read 3s for v)."""
    def qual(aliasable):
        return '' if in_place and aliasable else ' __restrict__'
    ins = [f'const {storage_type(v.aval.dtype)}*{qual(v not in emitter.scatter_reads)} {name}'
           for v, name in emitter.params.items()]
    outs = [f'{storage_type(v.aval.dtype)}*{qual(True)} out{k}' for k, v in enumerate(outputs)]
    return ', '.join(ins + outs + [scalar])


def indent(lines, n):
    return [' ' * n + ln if ln else ln for ln in lines]


def generate_loop(kernel_name, eqns, roots, shape):
    """An elementwise kernel over `shape` storing every root at the kernel's own index."""
    n = math.prod(shape)
    sizes = [n] + [v.aval.size for e in eqns for v in list(e.inputs) + e.outputs
                   if isinstance(v, Var)]
    it = index_type(sizes)
    space = Space(shape, 'i', 'i')
    em = Emitter(eqns, it, [space])
    stores = []
    for k, r in enumerate(roots):
        names = space.names(r.aval.shape)
        if names is None:
            raise NotFusible(f'output {r.aval.str_short()} does not fit the space {shape}')
        v = em.value(r, names)
        stores.append(f'out{k}[i] = {store_expr(r.aval.dtype, v)};')
    body = space.declare('i', it) + em.scopes[0][0] + stores
    head = f'extern "C" __global__ void {kernel_name}({signature(em, roots, f"const {it} n", True)})'
    src = [head + ' {', f'  {it} start = 0;']
    if n >= VEC:
        src += indent(_vector_loop(em, roots, body, it), 2)
    src += indent(_host_rows(em, space, em.scopes[0][0] + stores, it), 2)
    src += [f'  const tj_span<{it}> span = tj_grid_span(n - start);',
            f'  for ({it} i = start + span.begin; i < start + span.end; i += span.step) {{']
    src += indent(body, 4) + ['  }', '}']
    return em, '\n'.join(src), it


VEC = 4     # elements per thread per step on the vector path


def _host_rows(em, space, lines, it):
    """On the host, a kernel that reads an operand broadcast or transposed walks its share
    row by row (tj_host_rows): that operand's index is then per row or the row's counter,
    and the inner loop vectorises instead of gathering with a division per element. Rows
    of a multiple of 8 (the host's lanes) only, so every stretch of a row is whole vectors
    and an element takes the same path on any thread count. [] where it does not apply."""
    big = space.big
    if len(big) < 2 or big[-1] < 16 or big[-1] % 8 or all(v.aval.size == 1 for v in em.scatter_reads):
        return []
    # p[i] as (p + r * cols)[j]: the loop counter itself as index (codegen_reduce._row_pointer)
    text = re.sub(r'\b((?:in|out)\d+)\[i\]', rf'(\1 + r * {big[-1]})[j]', '\n'.join(lines))
    return (['#ifdef TJ_HOST', f'tj_host_rows(n, ({it}){big[-1]}, [&]({it} r, {it} jb, {it} je) {{']
            + indent(Space(big[:-1], space.prefix, 'r').declare('r', it), 2)
            + [f'  for ({it} j = jb; j < je; ++j) {{',
               f'    const {it} {space.prefix}{len(big) - 1} = j, i = r * {big[-1]} + j;']
            + indent(text.split('\n'), 4) + ['  }', '});', 'return;', '#endif'])


def _vector_loop(em, roots, body, it):
    """The kernel's first part when every buffer it touches at its own index is aligned:
    VEC consecutive elements per step, each buffer read or written at the kernel's index
    moved as one vector (tj_vec: 16 bytes for float32), the body unrolled over the VEC
    lanes. Loads at other indices (broadcasts, transposes) stay scalar. The scalar loop
    after it does the tail, or everything when a pointer is misaligned (a view with an
    offset). In-place writes stay safe: a lane reads its inputs before the step stores."""
    text = '\n'.join(body)
    ins = [(p, storage_type(v.aval.dtype)) for v, p in em.params.items() if f'{p}[i]' in text]
    outs = [(f'out{k}', storage_type(r.aval.dtype)) for k, r in enumerate(roots)]
    aligned = ' && '.join(f'tj_aligned<{VEC}>({p})' for p, _ in ins + outs)
    # The host builds the plain loop below instead: g++ vectorises it 8 lanes wide (AVX2),
    # math calls included (libmvec), where the 4-lane body here stays narrower (bench
    # selu 2^20: 0.73 -> 0.31 ms, gelu_tanh 1.74 -> 1.06 ms).
    lines = ['#ifndef TJ_HOST', f'if ({aligned}) {{',
             f'  const {it} nv = n / {VEC};',
             f'  const tj_span<{it}> span = tj_grid_span(nv);',
             f'  for ({it} v = span.begin; v < span.end; v += span.step) {{']
    lines += [f'    const tj_vec<{t}, {VEC}> x{p} = tj_vec_load<{VEC}>({p}, v);' for p, t in ins]
    lines += [f'    tj_vec<{t}, {VEC}> x{p};' for p, t in outs]
    lane = text
    for p, _ in ins + outs:
        lane = lane.replace(f'{p}[i]', f'x{p}.v[lane]')
    lines += ['    TJ_UNROLL',
              f'    for (int lane = 0; lane < {VEC}; ++lane) {{',
              f'      const {it} i = v * {VEC} + lane;']
    lines += indent(lane.split('\n'), 6) + ['    }']
    lines += [f'    tj_vec_store<{VEC}>({p}, v, x{p});' for p, _ in outs]
    lines += ['  }', f'  start = nv * {VEC};', '}', '#endif']
    return lines


def generate_merged(name, members):
    """One kernel running several independent loop kernels in turn. members: (name,
    source, n_inputs, n_outputs). Each member becomes a device function; the kernel's
    parameters are every member's inputs, then every member's outputs, then each
    member's length (pointers before integers, as the host wrapper wants)."""
    funcs, ins, outs, sizes, calls = [], [], [], [], []
    for j, (mname, source, n_in, n_out) in enumerate(members):
        head, _, rest = source.partition('\n')
        prefix = f'extern "C" __global__ void {mname}('
        assert head.startswith(prefix) and head.endswith(') {'), head
        params = head[len(prefix):-3].split(', ')
        funcs.append(f'TJ_DEV void {mname}(' + ', '.join(params) + ') {\n' + rest)
        renamed = [re.sub(r'(\w+)$', lambda mt: f'm{j}_{mt.group(1)}', p) for p in params]
        ins += renamed[:n_in]
        outs += renamed[n_in:n_in + n_out]
        sizes += renamed[n_in + n_out:]
        calls.append(f'  {mname}(' + ', '.join(p.split()[-1] for p in renamed) + ');')
    head = f'extern "C" __global__ void {name}(' + ', '.join(ins + outs + sizes) + ') {'
    return '\n\n'.join(funcs) + '\n\n' + '\n'.join([head] + calls + ['}'])