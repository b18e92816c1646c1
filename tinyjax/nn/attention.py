"""jax.nn.dot_product_attention, the reference (XLA-style) computation.

Layout (batch B, query length T, key length S, query heads N, key/value heads K, head
dim H): query (B, T, N, H), key and value (B, S, K, H); rank-3 arguments gain a leading
batch of one. Grouped-query attention shares each key/value head among N // K query
heads, so the query is viewed as (B, T, K, G, H) and never repeated. Logits are at least
float32, masked positions get a large finite negative value (not -inf, so a fully
masked row stays finite), the softmax runs in float32 and the probabilities are cast
to the key dtype before they weight the values.
"""
import numpy as np

from tinyjax import dtypes, lax
from tinyjax import numpy as jnp
from tinyjax.nn import logsumexp, softmax


def _as_4d(t):
    t = jnp.asarray(t)
    return t.reshape((1,) * (4 - t.ndim) + t.shape) if t.ndim < 4 else t


def _check(t, shape, dtype, name):
    if t is None:
        return
    if t.ndim != len(shape):
        raise ValueError(f'{name} ndim should be {len(shape)}, but got {t.ndim}')
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f'{name} dtype should be {dtype}, but got {t.dtype}')
    if any(want != -1 and got != want for want, got in zip(shape, t.shape)):
        raise ValueError(f'{name} shape should be {list(shape)}: but got {t.shape}')


def _grouped(t, K, G):
    """A (b, n, t, s) bias or mask as (b, K, G, t, s), n being 1 or N = K * G."""
    b, n, tq, s = t.shape
    if n == 1:
        return t.reshape(b, 1, 1, tq, s)
    if n != K * G:
        raise ValueError(f'bias/mask head dimension should be 1 or {K * G}, but got {n}')
    return t.reshape(b, K, G, tq, s)


def _large_negative(dtype):
    big = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
    return np.asarray(-0.7 * big, dtype)


def _mask(T, S, mask, is_causal, q_len, kv_len, window):
    """The combined boolean mask, broadcastable to (B, K, G, T, S), or None."""
    parts = [] if mask is None else [mask]
    q = lax.broadcasted_iota(np.int32, (T, S), 0)
    k = lax.broadcasted_iota(np.int32, (T, S), 1)
    if is_causal:
        parts.append(k <= q)
    if window is not None:
        left, right = window
        parts.append((q <= k + left) & (q >= k - right))
    if q_len is not None:
        parts.append((jnp.arange(T)[None, :, None] < q_len[:, None, None])[:, None, None])
    if kv_len is not None:
        parts.append((jnp.arange(S)[None, None, :] < kv_len[:, None, None])[:, None, None])
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = jnp.logical_and(out, p)
    return out


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal=False, query_seq_lengths=None, key_value_seq_lengths=None,
                          local_window_size=None, implementation=None, return_residual=False):
    out_shape = jnp.asarray(query).shape
    q, k, v = _as_4d(query), _as_4d(key), _as_4d(value)
    bias = None if bias is None else _as_4d(bias)
    mask = None if mask is None else _as_4d(mask)
    q_len = None if query_seq_lengths is None else jnp.asarray(query_seq_lengths)
    kv_len = None if key_value_seq_lengths is None else jnp.asarray(key_value_seq_lengths)
    if isinstance(local_window_size, int):
        local_window_size = (local_window_size, local_window_size)
    B, S, K, H = k.shape
    _check(v, [B, S, K, H], k.dtype, 'value')
    _check(q, [B, -1, -1, H], k.dtype, 'query')
    _check(mask, [-1] * 4, np.dtype(bool), 'mask')
    _check(bias, [-1] * 4, None, 'bias')
    _check(q_len, [B], np.dtype(np.int32), 'query_seq_lengths')
    _check(kv_len, [B], np.dtype(np.int32), 'key_value_seq_lengths')
    T, N = q.shape[1], q.shape[2]
    if N % K != 0:
        raise ValueError('The number of query heads must be a multiple of key/value heads, '
                         f'but got {N} vs {K}')
    if implementation not in (None, 'xla'):
        if implementation == 'cudnn':
            raise NotImplementedError("dot_product_attention: implementation='cudnn' is not "
                                      "available in tinyjax; use None or 'xla'")
        raise ValueError(f'Unsupported implementation option: {implementation}')
    G = N // K
    scale = 1.0 / np.sqrt(H) if scale is None else scale

    logits_dtype = jnp.promote_types(q.dtype, np.float32)
    logits = jnp.einsum('BTKGH,BSKH->BKGTS', q.reshape(B, T, K, G, H), k,
                        preferred_element_type=logits_dtype)
    logits = logits * np.asarray(scale, logits_dtype)
    if bias is not None:
        logits = (logits + _grouped(bias, K, G)).astype(logits_dtype)
    full = _mask(T, S, None if mask is None else _grouped(mask, K, G), is_causal, q_len,
                 kv_len, local_window_size)
    if full is not None:
        logits = jnp.where(full, logits, _large_negative(logits_dtype))
    logits = logits.astype(np.float32)
    probs = softmax(logits, axis=-1).astype(k.dtype)
    out = jnp.einsum('BKGTS,BSKH->BTKGH', probs, v).reshape(B, T, N, H)
    if q_len is not None:
        out = out * (jnp.arange(T)[None, :] < q_len[:, None])[:, :, None, None].astype(out.dtype)
    out = out.reshape(out_shape)
    if not return_residual:
        return out
    lse = logsumexp(logits, axis=-1).astype(k.dtype)              # (B, K, G, T)
    lse = jnp.transpose(lse, (0, 3, 1, 2)).reshape(B, T, N)
    return out, lax.stop_gradient(lse).reshape(out_shape[:-1])
