"""Products: dot, matmul, einsum, tensordot, outer, inner, vdot, kron."""
import string

import numpy as np

from tinyjax import dtypes, lax
from tinyjax.ops.dot_general import contract as contract_dims
from tinyjax.ops.layout import laid_out
from tinyjax.ops.precision import canonicalize_precision
from tinyjax.numpy.conversion import asarray, broadcast_shapes, promote, broadcast_to
from tinyjax.numpy import manipulation, ufuncs
from tinyjax.numpy.manipulation import ravel, reshape, transpose, moveaxis
from tinyjax.numpy.ufuncs import multiply
from tinyjax.numpy.creation import eye


def _pe(preferred_element_type):
    return None if preferred_element_type is None else np.dtype(preferred_element_type)


def dot(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    precision = canonicalize_precision(precision, 'dot')
    a, b = promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.ndim <= 2 and b.ndim <= 2 or b.ndim == 1:
        contract = ((a.ndim - 1,), (0 if b.ndim == 1 else b.ndim - 2,))
    else:
        contract = ((a.ndim - 1,), (b.ndim - 2,))
    _check_contract('dot', a, b, contract)
    return laid_out(contract_dims(a, b, (contract, ((), ())), precision,
                                  _pe(preferred_element_type), out_sharding is not None), out_sharding)


def _check_contract(op, a, b, contract):
    (la,), (rb,) = contract
    if a.shape[la] != b.shape[rb]:
        raise TypeError(f'{op}: incompatible shapes for contraction: {a.shape} and {b.shape} '
                        f'(axis {la} of size {a.shape[la]} against axis {rb} of size '
                        f'{b.shape[rb]}); the inner dimensions must match.')


def matmul(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    return laid_out(_matmul(a, b, precision, preferred_element_type, out_sharding is not None),
                    out_sharding)


def _matmul(a, b, precision, preferred_element_type, split):
    precision = canonicalize_precision(precision, 'matmul')
    a, b = promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f'matmul: input operands must not be 0-d (got shapes {a.shape} and '
                         f'{b.shape}); use * for scalar multiplication.')
    a1, b1 = a.ndim == 1, b.ndim == 1
    if (a1 or b1) and a.ndim <= 2 and b.ndim <= 2 and a.shape[-1] == b.shape[0]:
        # A vector operand contracts directly, as in JAX's jaxpr (no reshapes around it).
        return contract_dims(a, b, (((a.ndim - 1,), (0,)), ((), ())), precision,
                             _pe(preferred_element_type), split)
    if a1:
        a = reshape(a, (1, a.shape[0]))
    if b1:
        b = reshape(b, (b.shape[0], 1))
    if a.shape[-1] != b.shape[-2]:
        raise TypeError(f'matmul: incompatible shapes {a.shape if not a1 else a.shape[1:]} and '
                        f'{b.shape if not b1 else b.shape[:1]}: the last axis of the first '
                        f'({a.shape[-1]}) must equal the second-to-last axis of the second '
                        f'({b.shape[-2]}).')
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op='matmul')
    nb = len(batch)
    pet = _pe(preferred_element_type)
    if a.ndim == 2 and b.ndim > 2 and not a1:
        # (m,k) @ (..., k, n): contract without broadcasting a, then move m forward.
        out = contract_dims(a, b, (((1,), (b.ndim - 2,)), ((), ())), precision, pet, split)
        out = lax.transpose(out, tuple(range(1, b.ndim - 1)) + (0, b.ndim - 1))
    elif b.ndim == 2:
        out = contract_dims(a, b, (((a.ndim - 1,), (0,)), ((), ())), precision, pet, split)
    else:
        a = broadcast_to(a, batch + a.shape[-2:])
        b = broadcast_to(b, batch + b.shape[-2:])
        out = contract_dims(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                            precision, pet, split)
    if a1:
        out = lax.squeeze(out, (out.ndim - 2,))
    if b1:
        out = lax.squeeze(out, (out.ndim - 1,))
    return out


def vdot(a, b, *, precision=None, preferred_element_type=None):
    precision = canonicalize_precision(precision, 'vdot')
    a = ufuncs.conjugate(a)           # NumPy's vdot conjugates its first argument
    return dot(ravel(a), ravel(b), precision=precision, preferred_element_type=preferred_element_type)


def inner(a, b, *, precision=None, preferred_element_type=None):
    precision = canonicalize_precision(precision, 'inner')
    a, b = promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    _check_contract('inner', a, b, ((a.ndim - 1,), (b.ndim - 1,)))
    return lax.dot_general(a, b, (((a.ndim - 1,), (b.ndim - 1,)), ((), ())), precision,
                           _pe(preferred_element_type))


def outer(a, b, out=None):
    a, b = promote(ravel(a), ravel(b))
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None, out_sharding=None):
    precision = canonicalize_precision(precision, 'tensordot')
    a, b = promote(a, b)
    if isinstance(axes, int):
        if axes < 0 or axes > min(a.ndim, b.ndim):
            raise TypeError(f'tensordot: axes={axes} must be between 0 and the smaller rank')
        ax_a = tuple(range(a.ndim - axes, a.ndim))
        ax_b = tuple(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if np.ndim(ax_a) == 0 else tuple(ax_a)
        ax_b = (ax_b,) if np.ndim(ax_b) == 0 else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise TypeError(f'tensordot: axes lists must have equal length, got {axes}')
        ax_a = tuple(x % a.ndim for x in ax_a)
        ax_b = tuple(x % b.ndim for x in ax_b)
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise TypeError(f'tensordot: shape mismatch {a.shape} and {b.shape} along axes '
                            f'{ax_a} and {ax_b}')
    return laid_out(contract_dims(a, b, ((ax_a, ax_b), ((), ())), precision,
                                  _pe(preferred_element_type), out_sharding is not None), out_sharding)


def kron(a, b):
    a, b = promote(a, b)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)
    a_e = reshape(a, sum(((s, 1) for s in a.shape), ()))
    b_e = reshape(b, sum(((1, s) for s in b.shape), ()))
    return reshape(multiply(a_e, b_e), tuple(x * y for x, y in zip(a.shape, b.shape)))


def einsum(subscripts, *operands, optimize=None, precision=None, preferred_element_type=None,
           out_sharding=None):
    return laid_out(_einsum(subscripts, operands, precision, preferred_element_type,
                            out_sharding is not None), out_sharding)


def _einsum(subscripts, operands, precision, preferred_element_type, split):
    """Contract operands left to right with dot_general; diagonals and sums handled first."""
    precision = canonicalize_precision(precision, 'einsum')
    ops = promote(*operands)
    if '->' in subscripts:
        ins, out = subscripts.replace(' ', '').split('->')
    else:
        ins = subscripts.replace(' ', '')
        letters = [c for c in ins.replace(',', '') if c.isalpha()]
        out = ''.join(sorted(c for c in set(letters) if letters.count(c) == 1))
    in_specs = ins.split(',')
    if len(in_specs) != len(ops):
        raise ValueError(f'einsum: {len(in_specs)} operand specs in {subscripts!r} but '
                         f'{len(ops)} operands given')
    in_specs, out = _expand_ellipsis(in_specs, out, ops)
    sizes = {}
    for spec, op in zip(in_specs, ops):
        if len(spec) != op.ndim:
            raise ValueError(f'einsum: spec {spec!r} has {len(spec)} axes but operand has shape '
                             f'{op.shape}')
        for c, n in zip(spec, op.shape):
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                raise ValueError(f'einsum: index {c!r} has size {sizes[c]} in one operand and '
                                 f'{n} in another ({subscripts!r} with shapes '
                                 f'{[o.shape for o in ops]})')
    pet = _pe(preferred_element_type)
    terms = [_take_diagonals(op, spec) for op, spec in zip(ops, in_specs)]
    # Sum out indices that appear in one term only and not in the output.
    def reduce_private(i, terms):
        op, spec = terms[i]
        others = set(out) | {c for j, (_, s) in enumerate(terms) if j != i for c in s}
        axes = tuple(k for k, c in enumerate(spec) if c not in others)
        if axes:
            op = lax.reduce_sum(op, axes)
            spec = ''.join(c for k, c in enumerate(spec) if k not in axes)
        terms[i] = (op, spec)
    for i in range(len(terms)):
        reduce_private(i, terms)
    while len(terms) > 1:
        (a, sa), (b, sb) = terms[0], terms[1]
        rest = set(out) | {c for _, s in terms[2:] for c in s}
        batch = [c for c in sa if c in sb and c in rest]
        contract = [c for c in sa if c in sb and c not in rest]
        dn = ((tuple(sa.index(c) for c in contract), tuple(sb.index(c) for c in contract)),
              (tuple(sa.index(c) for c in batch), tuple(sb.index(c) for c in batch)))
        res = contract_dims(a, b, dn, precision, pet, split)
        spec = ''.join(batch) + ''.join(c for c in sa if c not in batch and c not in contract) + \
            ''.join(c for c in sb if c not in batch and c not in contract)
        terms = [(res, spec)] + terms[2:]
        reduce_private(0, terms)
    op, spec = terms[0]
    for c in out:
        if c not in spec:
            raise ValueError(f'einsum: output index {c!r} does not appear in the inputs')
    return transpose(op, tuple(spec.index(c) for c in out)) if spec != out else op


def _expand_ellipsis(in_specs, out, ops):
    if '...' not in ''.join(in_specs) + out:
        return in_specs, out
    used = set(''.join(in_specs).replace('.', ''))
    free = [c for c in string.ascii_letters if c not in used]
    nell = max(op.ndim - (len(s) - 3) for s, op in zip(in_specs, ops) if '...' in s)
    ell = ''.join(free[:nell])
    new = []
    for s, op in zip(in_specs, ops):
        if '...' in s:
            k = op.ndim - (len(s) - 3)
            s = s.replace('...', ell[nell - k:])
        new.append(s)
    if '...' in out:
        out = out.replace('...', ell)
    elif '->' not in out:
        pass
    return new, out


def _take_diagonals(op, spec):
    while len(set(spec)) != len(spec):
        c = next(ch for ch in spec if spec.count(ch) > 1)
        i = spec.index(c)
        j = spec.index(c, i + 1)
        n = op.shape[i]
        op = moveaxis(op, (i, j), (-2, -1))
        mask = eye(n, dtype=op.dtype)
        op = lax.reduce_sum(lax.mul(op, lax.broadcast_in_dim(mask, op.shape, (op.ndim - 2, op.ndim - 1))),
                            (op.ndim - 1,))
        rest = [ch for k, ch in enumerate(spec) if k not in (i, j)]
        spec = ''.join(rest) + c
    return op, spec


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = manipulation.moveaxis(asarray(a), axisa, -1)
    b = manipulation.moveaxis(asarray(b), axisb, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], (a[..., 2] if a.shape[-1] == 3 else ufuncs.multiply(a[..., 0], 0))
    b0, b1, b2 = b[..., 0], b[..., 1], (b[..., 2] if b.shape[-1] == 3 else ufuncs.multiply(b[..., 0], 0))
    c = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return c[2]
    return manipulation.moveaxis(manipulation.stack(c, -1), -1, axisc)


def matvec(x1, x2, /):
    """Matrix-vector products over broadcast batch axes: (..., m, n) x (..., n) -> (..., m)."""
    return matmul(asarray(x1), asarray(x2)[..., None])[..., 0]


def vecmat(x1, x2, /):
    """conj(vector)-matrix products: (..., n) x (..., n, m) -> (..., m)."""
    return matmul(ufuncs.conj(asarray(x1))[..., None, :], asarray(x2))[..., 0, :]
