"""The kinds of lowering a primitive declares in its `lowering` slot. The compiler reads
the kind and its fields; it never looks at a primitive's name. A primitive with no
lowering is an opaque step (its impl runs between kernels).

- `Elementwise`: a C expression of the operands at one index (one table row per op).
- `IndexMap`: an output element is an operand element at a mapped index (broadcast,
  reshape, transpose, slice, pad, ...); the rule writes that expression.
- `Reducer`: a reduction over the `axes` parameter with a kernels/ reducer functor.
- `Gemm`: a matrix product, a library call in its own step.
"""


class Elementwise:
    """`expr`: a format template over the operands ({0}, {1}, ...) and the params; or
    `outputs`, one template per output of a multi-result primitive whose outputs share an
    index space, after `statement` (which also formats the outputs' names). Two templates
    are instructions rather than C: 'select' (select_n) and 'convert'
    (convert_element_type). `header`: a kernels/ header the code needs. `cheap`: cheap
    enough to recompute in each consumer rather than store. `half_ok=False`: computing
    on a half value in float would be wrong (nextafter steps by a float ulp). `named`:
    whether kernel names mention it. `reciprocal` (division): a float operand {1} the
    same across a row becomes one 1/{1} per row and a multiply (XLA's bits for x / b)."""

    def __init__(self, expr=None, *, outputs=None, statement=None, header=None, cheap=False,
                 half_ok=True, named=True, reciprocal=False):
        self.expr, self.outputs, self.statement = expr, outputs, statement
        self.header, self.cheap, self.half_ok, self.named = header, cheap, half_ok, named
        self.reciprocal = reciprocal

    def template(self, eqn, var):
        """The template for output `var` of eqn."""
        if self.outputs is not None:
            return self.outputs[eqn.outputs.index(var)]
        return self.expr


class IndexMap:
    """`rule(emitter, eqn, idx)` -> the C expression of the output at index names `idx`,
    reading operands through `emitter.value(var, index)`."""

    def __init__(self, rule, *, cheap=True, named=True):
        self.rule, self.cheap, self.named = rule, cheap, named
        self.half_ok = True


class Reducer:
    """`rule(dtype)` -> (the kernels/ reducer functor, its identity as a C literal) for an
    operand of `dtype`; the reduced axes are the equation's `axes` parameter."""

    def __init__(self, rule):
        self.rule = rule
        self.cheap, self.named = False, True


class Gemm:
    """A matrix product (dot_general): its own step, through the device's BLAS."""
    cheap, named = False, True
