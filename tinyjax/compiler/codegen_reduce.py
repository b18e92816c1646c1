"""Row kernels: reductions with their fused prologue, epilogue and row-wise outputs.

A row group reduces an operand of shape X over `axes`; the kept axes form the rows. One
block handles a row (grid-stride over rows) through the template in
kernels/tj_reduce.cuh: each reduction is a `tj_row_reduce` call whose lambda computes
the reduced operand at column j (the fused prologue, from the same emitter as
elementwise kernels). Later reductions can use earlier results of the same row, so
softmax (max, then sum of exp(x - max)) and layernorm (mean, then variance) run as one
kernel, and outputs of shape X (the softmax itself) are written by a final loop over
the row that reads the row results from registers.
"""
import math
import re

import numpy as np

from tinyjax import dtypes
from tinyjax.compiler.codegen import (
    Emitter, NotFusible, Space, c_literal, ctype, index_type, indent, signature, store_expr)

REDUCERS = {'reduce_sum': 'tj_op_sum', 'reduce_prod': 'tj_op_prod', 'reduce_max': 'tj_op_max',
            'reduce_min': 'tj_op_min', 'reduce_and': 'tj_op_and', 'reduce_or': 'tj_op_or'}


def is_row_reduction(e):
    if e.prim.name not in REDUCERS or not e.params.get('axes'):
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


def _reducer(name, dtype):
    dtype = np.dtype(dtype)
    if name == 'reduce_sum' and dtype == dtypes.bool_:
        return 'tj_op_or', '0'      # NumPy's sum of booleans here is `any`
    op = REDUCERS[name]
    if name in ('reduce_sum', 'reduce_or'):
        return op, '0'
    if name == 'reduce_prod':
        return op, '1'
    if name == 'reduce_and':
        return op, '1' if dtype == dtypes.bool_ else '(~0)'
    big = name == 'reduce_min'
    if dtype == dtypes.bool_:
        return op, '1' if big else '0'
    if dtypes.is_int(dtype):
        info = np.iinfo(dtype)
        return op, c_literal(info.max if big else info.min, dtype)
    return op, c_literal(np.inf if big else -np.inf, np.float32 if ctype(dtype) == 'float' else dtype)


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

    reds = [e for e in eqns if e.prim.name in REDUCERS]
    for e in reds:
        if row_space(e) != (tuple(x_shape), tuple(axes)):
            raise NotFusible('reductions of a row kernel must share their rows')
    em.pending = {e.outputs[0] for e in reds}
    row_lines = em.scopes[0][0]
    for k, e in enumerate(reds):
        out = e.outputs[0]
        dt = e.inputs[0].aval.dtype
        acc = _acc_type(dt)
        op, init = _reducer(e.prim.name, dt)
        em.push()
        v = em.value(e.inputs[0], xnames)
        inner = jspace.declare('j', it) + em.pop() + [f'return ({acc})({v});']
        row_lines.append(f'const {acc} acc{k} = tj_row_reduce<{acc}>(({it}){cols}, ({acc}){init}, '
                         f'{op}(), [&]({it} j) -> {acc} {{')
        row_lines.extend(indent(inner, 2))
        row_lines.append('});')
        name = f'red{k}'
        row_lines.append(f'const {ctype(out.aval.dtype)} {name} = {em._round(out.aval.dtype, f"acc{k}")};')
        em.pending.discard(out)
        em.reductions[out] = (name, knames)
        em.flops += rows * cols

    x_roots = [(k, r) for k, r in enumerate(roots) if tuple(r.aval.shape) == tuple(x_shape)
               and (r.aval.size != rows or cols != 1)]
    row_roots = [(k, r) for k, r in enumerate(roots) if (k, r) not in x_roots]
    if x_roots:
        em.push()
        stores = []
        for k, r in x_roots:
            v = em.value(r, xnames)
            off, _ = em.offset(r.aval.shape, xnames)
            stores.append(f'out{k}[{off}] = {store_expr(r.aval.dtype, v)};')
        body = jspace.declare('j', it) + em.pop() + stores
        row_lines.append(f'tj_row_for(({it}){cols}, [&]({it} j) {{')
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
        row_lines.append('if (threadIdx.x == 0) {')
        row_lines.extend(indent(stores, 2))
        row_lines.append('}')

    body = rspace.declare('row', it) + row_lines
    head = f'extern "C" __global__ void {kernel_name}({signature(em, roots, f"const {it} n_rows")})'
    src = [head + ' {',
           f'  for ({it} row = blockIdx.x; row < n_rows; row += gridDim.x) {{']
    src += indent(body, 4) + ['  }', '}']
    return em, '\n'.join(src), it, rows, cols
