"""Row kernels: reductions with their fused prologue, epilogue and row-wise outputs.

A row group reduces an operand of shape X over `axes`; the kept axes form the rows. Each
reduction is a call to a template in kernels/tj_reduce.cuh whose lambda computes the
reduced operand at column j (the fused prologue, from the same emitter as elementwise
kernels). Later reductions can use earlier results of the same row, so softmax (max,
then sum of exp(x - max)) and layernorm (mean, then variance) run as one kernel, and
outputs of shape X (the softmax itself) are written by a final loop over the row that
reads the row results from registers. When that loop uses the last reduction's operand
and the operand costs a math call (softmax's exp(x - max)), the fold stores it in an
operand-shaped output and the loop reads it back instead (`_stash_target`).

Rows map to threads in one of two layouts, chosen here from the row length:

- warp rows (cols <= WARP_ROW_COLS): a warp per row, WARP_BLOCK / 32 rows per block,
  combined by warp shuffles alone. 512 because a warp-rows kernel keeps up to 64 rows
  in flight per SM and softmax reads each row three times: 64 rows of 512 floats
  (128 KB) stay in an H100 SM's 256 KB L1 between the reads; 1024 columns would not.
- block rows (longer rows): a block of ROW_BLOCK threads per (row, chunk). The launcher
  (compiler/program.py) picks the chunks per row from the device's SM count
  (`split_chunks`): one for many rows, so the kernel runs once (pass -1), as many as
  fill the GPU for a few long rows — a full `jnp.sum(x)` is one row. A split kernel runs
  reductions + 1 times: pass k folds reduction k over each chunk into partials (8-byte
  slots in a scratch buffer, `part`) after combining the partials of the reductions
  before it, and the last pass combines all of them and writes the outputs, operand
  shaped ones chunk by chunk. Fixed chunks, a fixed combine order and no atomics make
  the result bitwise reproducible; integer reductions are exact in any order.
"""
import math
import re

import numpy as np

from tinyjax import dtypes
from tinyjax.compiler import codegen_columns
from tinyjax.compiler.lowering import Reducer
from tinyjax.core.ir import Var
from tinyjax.compiler.codegen import (
    Emitter, NotFusible, Space, c_literal, ctype, index_type, indent, signature, storage_type,
    store_expr)

WARP_ROW_COLS = 512   # longest row given to one warp (see the module doc)
WARP_BLOCK = 256      # threads of a warp-rows block: 8 rows at a time
ROW_BLOCK = 512       # threads of a block-rows block
MIN_CHUNK = 4096      # fewest columns of a split row's chunk: 8 per thread
BLOCKS_PER_SM = 4     # (row, chunk) blocks a split aims for per SM (one wave of 512 threads)
RV = 4                # columns per vector step (TJ_RV in kernels/tj_reduce.cuh)

def is_row_reduction(e):
    if not isinstance(e.prim.lowering, Reducer) or not e.params.get('axes'):
        return False
    dt = e.inputs[0].aval.dtype
    return dt in (dtypes.bool_,) or dtypes.is_int(dt) or (dtypes.is_float(dt) and dt.itemsize <= 8)


def row_space(e):
    """(X, axes) of a reduction: the shape it reduces and the reduced axes."""
    return tuple(e.inputs[0].aval.shape), tuple(sorted(e.params['axes']))


def _acc_type(dtype):
    dtype = np.dtype(dtype)
    if dtype == dtypes.bool_ or dtype in (dtypes.int8, dtypes.int16):
        return 'int'
    if dtype in (dtypes.uint8, dtypes.uint16):
        return 'unsigned int'
    return ctype(dtype)


def identity_literal(big, dtype):
    """The identity of a max (big=False) or min (big=True) reduction over `dtype`, in C."""
    dtype = np.dtype(dtype)
    if dtype == dtypes.bool_:
        return '1' if big else '0'
    if dtypes.is_int(dtype):
        info = np.iinfo(dtype)
        return c_literal(info.max if big else info.min, dtype)
    return c_literal(np.inf if big else -np.inf, np.float32 if ctype(dtype) == 'float' else dtype)


class _XSpace(Space):
    """Names of the reduced operand's index: kept axes r*, reduced axes j*."""

    def __init__(self, shape, axes, rows, cols):
        super().__init__(shape, '', '')
        self.axes, self.rows, self.cols = axes, rows, cols
        self.trailing = tuple(axes) == tuple(range(len(shape) - len(axes), len(shape)))
        self.columns = False      # a column kernel's operand offsets: (j * rows + row)

    def names(self, shape):
        if tuple(shape) != self.shape:
            return None
        out, r, j = [], 0, 0
        for a, s in enumerate(shape):
            if s == 1:
                out.append('0')
            elif a in self.axes:
                out.append(f'j{j}')
                j += 1
            else:
                out.append(f'r{r}')
                r += 1
        return tuple(out)

    def flat(self, shape, idx):
        if self.columns and self.names(shape) == tuple(idx):
            return codegen_columns.flat_index(self.rows)
        if not self.trailing or self.names(shape) != tuple(idx):
            return None
        if self.cols == 1:
            return 'row'
        return 'j' if self.rows == 1 else f'(row * {self.cols} + j)'


class RowLayout:
    """How a row kernel maps rows to threads, and what its launcher needs to know.

    warp: a warp per row (rows of at most WARP_ROW_COLS columns), else a block per
    (row, chunk); columns: a thread per row (codegen_columns). reductions: how many reductions (a split row runs reductions + 1
    passes). operand_outputs: whether it writes outputs of the operand's shape (then the
    last pass of a split row runs for every chunk, else once per row).
    """

    def __init__(self, warp, reductions, operand_outputs, columns=False):
        self.warp, self.reductions, self.operand_outputs = warp, reductions, operand_outputs
        self.columns = columns    # one output per thread (codegen_columns)

    def tasks_per_row(self, chunks, pass_):
        """Blocks a row needs in pass `pass_` (-1: the single pass of unsplit rows)."""
        if pass_ == self.reductions and not self.operand_outputs:
            return 1
        return chunks


def split_chunks(rows, cols, sm_count, per_sm=BLOCKS_PER_SM):
    """Chunks per row for a block-rows kernel: enough (row, chunk) blocks for `per_sm`
    blocks per SM (as many as fit at once: one wave, no tail), each chunk at least
    MIN_CHUNK columns long."""
    want = -(-per_sm * sm_count // max(rows, 1))
    return max(1, min(want, cols // MIN_CHUNK))


class _RowVectors:
    """The vector forms of a row kernel's prologues and epilogue (tj_fold, tj_for in
    kernels/tj_reduce.cuh): loads and stores of buffers read or written contiguously along
    the row — at the operand's flat index when rows are whole multiples of TJ_RV, or at
    the column itself for operands of the reduced shape (a layernorm's scale) — become
    one tj_vec per TJ_RV columns; other accesses stay scalar inside the lanes. `pointers`
    collects the buffers whose 16-byte alignment the kernel checks once (`vec`)."""

    def __init__(self, it, rows, cols, red_ndim):
        self.it = it
        flats = {'j': 'jv'} if red_ndim == 1 else {}
        if rows == 1:
            flats['j'] = 'jv'
        elif cols % RV == 0:
            flats[f'(row * {cols} + j)'] = f'(row * {cols // RV} + jv)'
        if red_ndim == 1:
            flats['j0'] = 'jv'
        self.flats = flats
        self.pattern = None
        if flats:
            alts = '|'.join(re.escape(f) for f in flats)
            self.pattern = re.compile(rf'\b((?:in|out)\d+)\[({alts})\](\s*=(?!=))?')
        self.pointers = {}

    def vectorise(self, lines, types, result):
        """Lines of a vector lambda body computing `lines` (a scalar body over column j)
        for TJ_RV columns, or None when nothing in them is contiguous. types: buffer
        name -> storage type; result(text) rewrites the scalar body's last line."""
        text = '\n'.join(lines)
        if self.pattern is None or not self.pattern.search(text):
            return None
        loads, stores = {}, {}

        def repl(m):
            p, flat, assign = m.group(1), m.group(2), m.group(3)
            name = f'x{p}_{len(loads) + len(stores)}'
            table = stores if assign else loads
            name = table.setdefault((p, flat), name)
            self.pointers[p] = types[p]
            return f'{name}.v[lane]' + (' =' if assign else '')
        lane = self.pattern.sub(repl, text).split('\n')
        head = [f'const tj_vec<{types[p]}, TJ_RV> {n} = tj_vec_load<TJ_RV>({p}, {self.flats[f]});'
                for (p, f), n in loads.items()]
        head += [f'tj_vec<{types[p]}, TJ_RV> {n};' for (p, f), n in stores.items()]
        body = (head + ['TJ_UNROLL', 'for (int lane = 0; lane < TJ_RV; ++lane) {',
                        f'  const {self.it} j = jv * TJ_RV + lane;']
                + indent(lane[:-1] + [result(lane[-1])], 2) + ['}'])
        body += [f'tj_vec_store<TJ_RV>({p}, {self.flats[f]}, {n});' for (p, f), n in stores.items()]
        return body

    def condition(self):
        if not self.pointers:
            return 'false'
        return ' && '.join(f'tj_aligned<TJ_RV>({p})' for p in sorted(self.pointers))


_ROW_ACCESS = re.compile(r'\b((?:in|out)\d+)\[\(row \* (\d+) \+ j\)\]')


def _row_pointer(lines):
    """`in0[(row * C + j)]` as `(in0 + row * C)[j]`: the same address, but an index that is
    the loop counter itself, which g++ can vectorise under -fwrapv (where row * C + j
    might wrap around)."""
    return [_ROW_ACCESS.sub(r'(\1 + row * \2)[j]', ln) for ln in lines]


# A stash pays for itself when the operand costs a math call (libmvec's expf: about 0.3 ns
# an element on the 2-core VM, a float32 store and reload about 0.05 ns).
_MATH_CALL = re.compile(r'\b(?:exp|exp2|expm1|log|log2|log10|log1p|pow|a?tanh|a?sinh|a?cosh|sin|'
                        r'cos|tan|asin|acos|atan|atan2|erf|erfc|erfinv|lgamma|tgamma|cbrt|hypot)\(')


def _stash_target(reds, x_roots, defs):
    """(k, root): the operand-shaped output the last reduction's fold fills with its
    operand for the epilogue to read back (softmax's exp(x - max), computed once), or
    None. No barrier is needed: a column's fold and epilogue run on one thread
    (tj_reduce.cuh), and a row kernel never writes an output in place of an input."""
    src = reds[-1].inputs[0] if reds else None
    seen, stack = set(), [r for _, r in x_roots]
    while src in defs and stack:       # does the epilogue use src?
        v = stack.pop()
        if v is src:
            return next(((k, r) for k, r in x_roots if r.aval.dtype == src.aval.dtype
                         and storage_type(r.aval.dtype) == ctype(r.aval.dtype)), None)
        if v not in seen and v in defs and not isinstance(defs[v].prim.lowering, Reducer):
            seen.add(v)
            stack.extend(a for a in defs[v].inputs if isinstance(a, Var))
    return None


def _lambda(head, body, first, last):
    """A lambda argument's lines (indented 2), or tj_no_vec() when body is None."""
    if body is None:
        return ['  tj_no_vec(),']
    inner = ([first] if first else []) + body + ([last] if last else [])
    return [f'  {head} {{'] + indent(inner, 4) + ['  },']


def _warp_rows_head(it):
    # Rows go to blocks in groups of n_warps consecutive rows, one row per warp (a host
    # block walks its warps in order, and its groups are one contiguous share, which
    # keeps its reads sequential).
    return ['  const int n_warps = tj_warps_per_block();',
            f'  const tj_span<{it}> span = tj_block_span((n_rows + n_warps - 1) / n_warps);',
            f'  for ({it} group = span.begin; group < span.end; group += span.step) {{',
            '    for (int w = tj_warp_first(); w < tj_warp_end(); ++w) {',
            f'      const {it} row = group * n_warps + w;',
            '      if (row >= n_rows) break;']


def _block_rows_head(it, cols, layout):
    per_row = 'n_chunks'
    if not layout.operand_outputs:     # the last pass only combines: one block per row
        per_row = f'(pass == {layout.reductions} ? ({it})1 : n_chunks)'
    return [f'  const {it} per_row = {per_row};',
            # a multiple of TJ_RV, so that every chunk starts on a whole column vector
            f'  const {it} chunk_len = (({cols} + n_chunks - 1) / n_chunks + TJ_RV - 1) / TJ_RV * TJ_RV;',
            f'  const tj_span<{it}> span = tj_block_span(n_rows * per_row);',
            f'  for ({it} task = span.begin; task < span.end; task += span.step) {{',
            f'    const {it} row = task / per_row;',
            f'    const {it} chunk = task % per_row;',
            f'    const {it} jb = chunk * chunk_len;',
            f'    const {it} je = {cols} - jb > chunk_len ? jb + chunk_len : ({it}){cols};']


def generate_row(kernel_name, eqns, roots, x_shape, axes):
    kept = tuple(s for a, s in enumerate(x_shape) if a not in axes)
    red_shape = tuple(x_shape[a] for a in axes)
    rows, cols = math.prod(kept), math.prod(red_shape)
    sizes = [math.prod(x_shape), rows] + [v.aval.size for e in eqns for v in e.outputs]
    it = index_type(sizes)
    rspace = Space(kept, 'r', 'row')
    xspace = _XSpace(x_shape, axes, rows, cols)
    jspace = Space(red_shape, 'j', 'j')
    em = Emitter(eqns, it, [xspace, rspace])
    em.inner_pattern = re.compile(r'\bj\d*\b')
    xnames, knames = xspace.names(x_shape), rspace.names(kept)

    reds = [e for e in eqns if isinstance(e.prim.lowering, Reducer)]
    for e in reds:
        if row_space(e) != (tuple(x_shape), tuple(axes)):
            raise NotFusible('reductions of a row kernel must share their rows')
    x_roots = [(k, r) for k, r in enumerate(roots) if tuple(r.aval.shape) == tuple(x_shape)
               and (r.aval.size != rows or cols != 1)]
    row_roots = [(k, r) for k, r in enumerate(roots) if (k, r) not in x_roots]
    for k, r in row_roots:
        if rspace.names(r.aval.shape) is None:
            raise NotFusible(f'output {r.aval.str_short()} is neither a row nor the operand shape')
    if codegen_columns.applies(x_shape, axes, rows, cols, reds, x_roots, em.defs):
        e = reds[0]
        dt = e.inputs[0].aval.dtype
        acc = _acc_type(dt)
        op, init = e.prim.lowering.rule(dt)
        xspace.columns = True
        em.pending = {e.outputs[0]}
        rounded = (ctype(e.outputs[0].aval.dtype), em._round(e.outputs[0].aval.dtype, 'acc0'))
        src = codegen_columns.generate(kernel_name, em, roots, x_roots, row_roots, e, acc, op,
                                       init, it, cols, xnames, knames, rspace, jspace, rounded)
        return em, src, it, rows, cols, RowLayout(False, 1, bool(x_roots), columns=True)
    layout = RowLayout(cols <= WARP_ROW_COLS, len(reds), bool(x_roots))
    warp = layout.warp
    em.pending = {e.outputs[0] for e in reds}
    row_lines = em.scopes[0][0]
    vecs = _RowVectors(it, rows, cols, len(red_shape))
    stash, stash_at = _stash_target(reds, x_roots, em.defs), em.offset(x_shape, xnames)[0]

    def types():
        t = {p: storage_type(v.aval.dtype) for v, p in em.params.items()}
        t.update((f'out{k}', storage_type(r.aval.dtype)) for k, r in enumerate(roots))
        return t

    for k, e in enumerate(reds):
        out = e.outputs[0]
        dt = e.inputs[0].aval.dtype
        acc = _acc_type(dt)
        op, init = e.prim.lowering.rule(dt)
        em.push()
        v = em.value(e.inputs[0], xnames)
        inner = jspace.declare('j', it) + em.pop()
        if k == len(reds) - 1 and stash and _MATH_CALL.search('\n'.join(inner)):
            inner.append(f'out{stash[0]}[{stash_at}] = {v};')
        elif k == len(reds) - 1:
            stash = None
        inner.append(f'return ({acc})({v});')
        vector = vecs.vectorise(inner, types(), lambda ln: ln.replace('return ', 'r.v[lane] = ', 1))
        if warp:
            call = f'tj_warp_row_reduce<{acc}>(({it}){cols}, '
        else:
            call = (f'tj_chunk_reduce<{acc}>(pass, {k}, tj_partials<{acc}>(part, {k}, n_rows, row, '
                    f'n_chunks), chunk, n_chunks, jb, je, ')
        row_lines.append(f'const {acc} acc{k} = {call}({acc}){init}, {op}(), vec,')
        row_lines.extend(_lambda(f'[&]({it} jv) -> tj_vec<{acc}, TJ_RV>', vector,
                                 f'tj_vec<{acc}, TJ_RV> r;', 'return r;'))
        row_lines.append(f'  [&]({it} j) -> {acc} {{')
        row_lines.extend(indent(_row_pointer(inner), 4))
        row_lines.append('  });')
        if not warp:
            row_lines.append(f'if (pass == {k}) continue;')
        name = f'red{k}'
        row_lines.append(f'const {ctype(out.aval.dtype)} {name} = {em._round(out.aval.dtype, f"acc{k}")};')
        em.pending.discard(out)
        em.reductions[out] = (name, knames)
        em.flops += rows * cols

    if x_roots:
        em.push()
        if stash:      # the last reduction's operand, as its fold stored it
            em._bind((reds[-1].inputs[0], tuple(xnames)), ctype(stash[1].aval.dtype),
                     f'out{stash[0]}[{stash_at}]', ' '.join(xnames) + ' ' + stash_at)
        stores = []
        for k, r in x_roots:
            v = em.value(r, xnames)
            off, _ = em.offset(r.aval.shape, xnames)
            stores.append(f'out{k}[{off}] = {store_expr(r.aval.dtype, v)};')
        body = jspace.declare('j', it) + em.pop() + stores
        vector = vecs.vectorise(body, types(), lambda ln: ln)
        loop = f'tj_warp_row_for(({it}){cols}, vec,' if warp else 'tj_row_for(jb, je, vec,'
        row_lines.append(loop)
        row_lines.extend(_lambda(f'[&]({it} jv)', vector, None, None))
        row_lines.append(f'  [&]({it} j) {{')
        row_lines.extend(indent(_row_pointer(body), 4))
        row_lines.append('  });')
    stores = []
    for k, r in row_roots:
        v = em.value(r, rspace.names(r.aval.shape))
        stores.append(f'out{k}[row] = {store_expr(r.aval.dtype, v)};')
    if stores:
        row_lines.append('if (tj_lane() == 0) {' if warp else 'if (chunk == 0 && threadIdx.x == 0) {')
        row_lines.extend(indent(stores, 2))
        row_lines.append('}')

    body = rspace.declare('row', it) + row_lines
    if warp:
        scalars, head, close = f'const {it} n_rows', _warp_rows_head(it), ['    }', '  }', '}']
        body = indent(body, 2)
    else:
        scalars = (f'unsigned long long* __restrict__ part, const {it} n_rows, '
                   f'const {it} n_chunks, const int pass')
        head, close = _block_rows_head(it, cols, layout), ['  }', '}']
    src = [f'extern "C" __global__ void {kernel_name}({signature(em, roots, scalars)}) {{',
           f'  const bool vec = {vecs.condition()};   // 16-byte aligned: vector loads and stores']
    src += head + indent(body, 4) + close
    return em, '\n'.join(src), it, rows, cols, layout
