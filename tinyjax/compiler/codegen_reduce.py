"""Row kernels: reductions with their fused prologue, epilogue and row-wise outputs.

A row group reduces an operand of shape X over `axes`; the kept axes form the rows. Each
reduction is a call to a template in kernels/tj_reduce.cuh whose lambda computes the
reduced operand at column j (the fused prologue, from the same emitter as elementwise
kernels). Later reductions can use earlier results of the same row, so softmax (max,
then sum of exp(x - max)) and layernorm (mean, then variance) run as one kernel, and
outputs of shape X (the softmax itself) are written by a final loop over the row that
reads the row results from registers.

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
from tinyjax.compiler.lowering import Reducer
from tinyjax.compiler.codegen import (
    Emitter, NotFusible, Space, c_literal, ctype, index_type, indent, signature, store_expr)

WARP_ROW_COLS = 512   # longest row given to one warp (see the module doc)
WARP_BLOCK = 256      # threads of a warp-rows block: 8 rows at a time
ROW_BLOCK = 512       # threads of a block-rows block
MIN_CHUNK = 4096      # fewest columns of a split row's chunk: 8 per thread
BLOCKS_PER_SM = 4     # (row, chunk) blocks a split aims for per SM (one wave of 512 threads)

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
        if not self.trailing or self.names(shape) != tuple(idx):
            return None
        if self.cols == 1:
            return 'row'
        return 'j' if self.rows == 1 else f'(row * {self.cols} + j)'


class RowLayout:
    """How a row kernel maps rows to threads, and what its launcher needs to know.

    warp: a warp per row (rows of at most WARP_ROW_COLS columns), else a block per
    (row, chunk). reductions: how many reductions (a split row runs reductions + 1
    passes). operand_outputs: whether it writes outputs of the operand's shape (then the
    last pass of a split row runs for every chunk, else once per row).
    """

    def __init__(self, warp, reductions, operand_outputs):
        self.warp, self.reductions, self.operand_outputs = warp, reductions, operand_outputs

    def tasks_per_row(self, chunks, pass_):
        """Blocks a row needs in pass `pass_` (-1: the single pass of unsplit rows)."""
        if pass_ == self.reductions and not self.operand_outputs:
            return 1
        return chunks


def split_chunks(rows, cols, sm_count):
    """Chunks per row for a block-rows kernel: enough (row, chunk) blocks for
    BLOCKS_PER_SM blocks per SM, each chunk at least MIN_CHUNK columns long."""
    want = -(-BLOCKS_PER_SM * sm_count // max(rows, 1))
    return max(1, min(want, cols // MIN_CHUNK))


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
            f'  const {it} chunk_len = ({cols} + n_chunks - 1) / n_chunks;',
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
    layout = RowLayout(cols <= WARP_ROW_COLS, len(reds), bool(x_roots))
    warp = layout.warp
    em.pending = {e.outputs[0] for e in reds}
    row_lines = em.scopes[0][0]
    for k, e in enumerate(reds):
        out = e.outputs[0]
        dt = e.inputs[0].aval.dtype
        acc = _acc_type(dt)
        op, init = e.prim.lowering.rule(dt)
        em.push()
        v = em.value(e.inputs[0], xnames)
        inner = jspace.declare('j', it) + em.pop() + [f'return ({acc})({v});']
        if warp:
            call = f'tj_warp_row_reduce<{acc}>(({it}){cols}, '
        else:
            call = (f'tj_chunk_reduce<{acc}>(pass, {k}, tj_partials<{acc}>(part, {k}, n_rows, row, '
                    f'n_chunks), chunk, n_chunks, jb, je, ')
        row_lines.append(f'const {acc} acc{k} = {call}({acc}){init}, {op}(), [&]({it} j) -> {acc} {{')
        row_lines.extend(indent(inner, 2))
        row_lines.append('});')
        if not warp:
            row_lines.append(f'if (pass == {k}) continue;')
        name = f'red{k}'
        row_lines.append(f'const {ctype(out.aval.dtype)} {name} = {em._round(out.aval.dtype, f"acc{k}")};')
        em.pending.discard(out)
        em.reductions[out] = (name, knames)
        em.flops += rows * cols

    if x_roots:
        em.push()
        stores = []
        for k, r in x_roots:
            v = em.value(r, xnames)
            off, _ = em.offset(r.aval.shape, xnames)
            stores.append(f'out{k}[{off}] = {store_expr(r.aval.dtype, v)};')
        body = jspace.declare('j', it) + em.pop() + stores
        loop = f'tj_warp_row_for(({it}){cols}, ' if warp else 'tj_row_for(jb, je, '
        row_lines.append(f'{loop}[&]({it} j) {{')
        row_lines.extend(indent(body, 2))
        row_lines.append('});')
    stores = []
    for k, r in row_roots:
        names = rspace.names(r.aval.shape)
        if names is None:
            raise NotFusible(f'output {r.aval.str_short()} is neither a row nor the operand shape')
        v = em.value(r, names)
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
    src = [f'extern "C" __global__ void {kernel_name}({signature(em, roots, scalars)}) {{']
    src += head + indent(body, 4) + close
    return em, '\n'.join(src), it, rows, cols, layout
