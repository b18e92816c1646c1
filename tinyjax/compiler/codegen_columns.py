"""Column kernels: a reduction over leading axes, one output per thread.

`x.sum(axis=0)` of a (B, D) array (a layer's bias gradient, the first pass of
`logsumexp(axis=0)`) reduces over the slow axis. Given a warp per output, a warp's lanes
would read one column 4·D bytes apart; here a thread owns an output ("row", in the
row-kernel vocabulary of codegen_reduce) and walks the reduced index j, so the threads
of a warp read D-consecutive addresses at every step: coalesced on the GPU, and on the
host a loop over a tile of outputs that g++ vectorises (tj_col_reduce in
kernels/tj_reduce.cuh). Used for one reduction whose reduced axes all precede its kept
axes, with enough outputs (MIN_ROWS) to give every thread of a few blocks its own (with
fewer, the warp-per-output layout keeps more of the GPU busy), and operand-shaped
outputs only where they do not need the reduction's result (`applies`).
"""
import re

from tinyjax.compiler.codegen import indent, signature, store_expr
from tinyjax.core.ir import Var

MIN_ROWS = 256
COLUMN_BLOCK = 256

_ACCESS = re.compile(r'\b((?:in|out)\d+)\[\(j \* (\d+) \+ row\)\]')


def applies(x_shape, axes, rows, cols, reductions, x_roots, defs):
    """Whether the group is a column kernel: one reduction over leading axes, at least
    MIN_ROWS outputs, and operand-shaped outputs (a ReLU's masked gradient beside its bias
    gradient) only where they do not depend on the reduction: those are stored as the
    walk computes them."""
    leading = tuple(axes) == tuple(range(len(axes))) and len(axes) < len(x_shape)
    if not (leading and len(reductions) == 1 and rows >= MIN_ROWS and cols > 1):
        return False
    red = reductions[0].outputs[0]
    return not any(_depends(r, red, defs) for _, r in x_roots)


def _depends(var, target, defs):
    seen, todo = set(), [var]
    while todo:
        v = todo.pop()
        if v is target:
            return True
        if v in seen or v not in defs:
            continue
        seen.add(v)
        todo.extend(a for a in defs[v].inputs if isinstance(a, Var))
    return False


def flat_index(rows):
    """The flat offset of an operand-shaped value at (j, row)."""
    return f'(j * {rows} + row)'


def _pointer_form(lines):
    # `in0[(j * R + row)]` as `(in0 + j * R)[row]`: the same address, with the host
    # loop's counter itself as the index, which g++ vectorises under -fwrapv.
    return [_ACCESS.sub(r'(\1 + j * \2)[row]', ln) for ln in lines]


def generate(kernel_name, em, roots, x_roots, row_roots, red, acc, op, init, it, cols, xnames,
             knames, rspace, jspace, rounded):
    """Source of a column kernel. em: the row kernel's Emitter (its spaces give operand
    values at (j, row) the offset flat_index); red: the reduction equation; rounded(e):
    the C expression of its result from `acc0`."""
    em.inner_pattern = None          # everything is per (row, j): nothing is hoisted
    em.push()
    v = em.value(red.inputs[0], xnames)
    stores = []
    for k, r in x_roots:
        off, _ = em.offset(r.aval.shape, xnames)
        stores.append(f'out{k}[{off}] = {store_expr(r.aval.dtype, em.value(r, xnames))};')
    prologue = (rspace.declare('row', it) + jspace.declare('j', it) + em.pop() + stores
                + [f'return ({acc})({v});'])
    out = red.outputs[0]
    em.pending.discard(out)
    em.reductions[out] = ('red0', knames)
    em.flops += out.aval.size * cols
    em.push()
    stores = []
    for k, r in row_roots:
        names = rspace.names(r.aval.shape)
        stores.append(f'out{k}[row] = {store_expr(r.aval.dtype, em.value(r, names))};')
    epilogue = (rspace.declare('row', it) + [f'const {rounded[0]} red0 = {rounded[1]};']
                + em.pop() + stores)
    src = [f'extern "C" __global__ void {kernel_name}({signature(em, roots, f"const {it} n_rows")}) {{',
           f'  tj_col_reduce<{acc}>(n_rows, ({it}){cols}, ({acc}){init}, {op}(),',
           f'    [&]({it} row, {it} j) -> {acc} {{']
    src += indent(_pointer_form(prologue), 6)
    src += ['    },', f'    [&]({it} row, {acc} acc0) {{']
    src += indent(epilogue, 6)
    src += ['    });', '}']
    return '\n'.join(src)
