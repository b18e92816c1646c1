"""JAX's stax: a neural network is a pair of functions

    init_fun(rng, input_shape) -> (output_shape, params)
    apply_fun(params, inputs, **kwargs) -> outputs

Layers (Dense, Conv, pooling, BatchNorm, the elementwise activations, ...) are such
pairs; combinators (serial, parallel, FanOut, FanInSum, shape_dependent) make pairs of
pairs. Random keys are split exactly as JAX's stax splits them, so the same key gives
the same parameters as under JAX.
"""
import functools
import math

from tinyjax import lax, random
from tinyjax import numpy as jnp
from tinyjax.nn import (elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid, softmax,
                        softplus, standardize)
from tinyjax.nn.initializers import glorot_normal, normal, ones, zeros

glorot = glorot_normal
randn = normal
logsoftmax = log_softmax


def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):
    """Fully connected: inputs (..., in) @ W (in, out_dim) + b."""
    def init_fun(rng, input_shape):
        k_w, k_b = random.split(rng)
        params = W_init(k_w, (input_shape[-1], out_dim)), b_init(k_b, (out_dim,))
        return tuple(input_shape[:-1]) + (out_dim,), params

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return jnp.dot(inputs, W) + b
    return init_fun, apply_fun


def _kernel_shape(rhs_spec, lhs_spec, input_shape, out_chan, filter_shape):
    """The kernel's shape in rhs_spec's layout: O = out_chan, I = the input's channels,
    spatial axes from filter_shape in order."""
    spatial = iter(filter_shape)
    in_chan = input_shape[lhs_spec.index('C')]
    return [out_chan if c == 'O' else in_chan if c == 'I' else next(spatial) for c in rhs_spec]


def _conv_layer(shape_tuple, apply_conv):
    def make(dimension_numbers, out_chan, filter_shape, strides=None, padding='VALID',
             W_init=None, b_init=normal(1e-6)):
        lhs_spec, rhs_spec, out_spec = dimension_numbers
        strides = strides or (1,) * len(filter_shape)
        W_init = W_init or glorot_normal(rhs_spec.index('I'), rhs_spec.index('O'))

        def init_fun(rng, input_shape):
            kernel_shape = _kernel_shape(rhs_spec, lhs_spec, input_shape, out_chan,
                                         filter_shape)
            out_shape = shape_tuple(input_shape, kernel_shape, strides, padding,
                                    dimension_numbers)
            bias_shape = [out_chan if c == 'C' else 1 for c in out_spec]
            k_w, k_b = random.split(rng)
            return out_shape, (W_init(k_w, kernel_shape), b_init(k_b, bias_shape))

        def apply_fun(params, inputs, **kwargs):
            W, b = params
            return apply_conv(inputs, W, strides, padding, dimension_numbers) + b
        return init_fun, apply_fun
    return make


def _conv(inputs, W, strides, padding, dimension_numbers):
    ones_ = (1,) * len(strides)
    return lax.conv_general_dilated(inputs, W, strides, padding, ones_, ones_,
                                    dimension_numbers=dimension_numbers)


def _conv_transposed(inputs, W, strides, padding, dimension_numbers):
    return lax.conv_transpose(inputs, W, strides, padding, dimension_numbers=dimension_numbers)


GeneralConv = _conv_layer(lax.conv_general_shape_tuple, _conv)
GeneralConv.__doc__ = 'A convolution layer with explicit layouts (dimension_numbers).'
Conv = functools.partial(GeneralConv, ('NHWC', 'HWIO', 'NHWC'))
GeneralConvTranspose = _conv_layer(lax.conv_transpose_shape_tuple, _conv_transposed)
GeneralConvTranspose.__doc__ = 'A transposed-convolution layer with explicit layouts.'
ConvTranspose = functools.partial(GeneralConvTranspose, ('NHWC', 'HWIO', 'NHWC'))
Conv1DTranspose = functools.partial(GeneralConvTranspose, ('NHC', 'HIO', 'NHC'))


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True,
              beta_init=zeros, gamma_init=ones):
    """Normalize over `axis` with batch statistics, then scale by gamma and shift by beta
    (each of the shape left after removing `axis`; () when switched off)."""
    axis = (axis,) if jnp.isscalar(axis) else tuple(axis)

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k_beta, k_gamma = random.split(rng)
        beta = beta_init(k_beta, shape) if center else ()
        gamma = gamma_init(k_gamma, shape) if scale else ()
        return input_shape, (beta, gamma)

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        expand = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        if scale:
            z = gamma[expand] * z
        if center:
            z = z + beta[expand]
        return z
    return init_fun, apply_fun


def elementwise(fun, **fun_kwargs):
    """A parameterless layer applying fun(inputs, **fun_kwargs)."""
    return (lambda rng, input_shape: (input_shape, ()),
            lambda params, inputs, **kwargs: fun(inputs, **fun_kwargs))


Tanh = elementwise(jnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


def _non_spatial_axes(spec, ndim):
    return (0, ndim - 1) if spec is None else (spec.index('N'), spec.index('C'))


def _pooling_layer(reducer, init_val, average=False):
    def PoolingLayer(window_shape, strides=None, padding='VALID', spec=None):
        """Pool over the spatial axes (by default all but the first and last: NHWC)."""
        strides = tuple(strides or (1,) * len(window_shape))
        window = tuple(window_shape)
        full_window, full_strides = list(window), list(strides)
        for i in sorted(_non_spatial_axes(spec, len(window) + 2)):
            full_window.insert(i, 1)
            full_strides.insert(i, 1)
        full_window, full_strides = tuple(full_window), tuple(full_strides)

        def init_fun(rng, input_shape):
            pads = lax.padtype_to_pads(input_shape, full_window, full_strides, padding)
            unit = (1,) * len(full_window)
            return lax.reduce_window_shape_tuple(input_shape, full_window, full_strides,
                                                 pads, unit, unit), ()

        def apply_fun(params, inputs, **kwargs):
            out = lax.reduce_window(inputs, init_val, reducer, full_window, full_strides,
                                    padding)
            if not average:
                return out
            # Divide by the number of real (unpadded) elements under each window.
            fixed = _non_spatial_axes(spec, inputs.ndim)
            spatial = tuple(n for i, n in enumerate(inputs.shape) if i not in fixed)
            counts = lax.reduce_window(jnp.ones(spatial, inputs.dtype), 0., lax.add, window,
                                       strides, padding)
            for i in sorted(fixed):
                counts = jnp.expand_dims(counts, i)
            return out / counts
        return init_fun, apply_fun
    return PoolingLayer


MaxPool = _pooling_layer(lax.max, -jnp.inf)
SumPool = _pooling_layer(lax.add, 0.)
AvgPool = _pooling_layer(lax.add, 0., average=True)


def _flatten():
    def init_fun(rng, input_shape):
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.reshape(inputs, (inputs.shape[0], -1))
    return init_fun, apply_fun


Flatten = _flatten()          # a layer, not a constructor, as in JAX
Identity = (lambda rng, input_shape: (input_shape, ()),
            lambda params, inputs, **kwargs: inputs)


def FanOut(num):
    """One input -> a list of num copies."""
    return (lambda rng, input_shape: ([input_shape] * num, ()),
            lambda params, inputs, **kwargs: [inputs] * num)


FanInSum = (lambda rng, input_shape: (input_shape[0], ()),
            lambda params, inputs, **kwargs: sum(inputs))


def FanInConcat(axis=-1):
    """A list of inputs -> one, concatenated along axis."""
    def init_fun(rng, input_shape):
        first = tuple(input_shape[0])
        ax = axis % len(first)
        size = sum(s[ax] for s in input_shape)
        return first[:ax] + (size,) + first[ax + 1:], ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.concatenate(inputs, axis)
    return init_fun, apply_fun


def Dropout(rate, mode='train'):
    """In 'train' mode keep each input with probability `rate` (JAX's stax meaning of the
    argument) scaled by 1/rate; any other mode is the identity. apply_fun needs rng=."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get('rng')
        if rng is None:
            raise ValueError(
                'Dropout layer requires apply_fun to be called with a PRNG key argument: '
                'call it as apply_fun(params, inputs, rng=key) with a key from '
                'tinyjax.random.key / PRNGKey, not apply_fun(params, inputs).')
        if mode != 'train':
            return inputs
        keep = random.bernoulli(rng, rate, inputs.shape)
        return jnp.where(keep, inputs / rate, 0)
    return init_fun, apply_fun


def _layer_rngs(kwargs, n):
    rng = kwargs.pop('rng', None)
    return random.split(rng, n) if rng is not None else (None,) * n


def serial(*layers):
    """Layers applied one after another; each init gets a fresh split of the key."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, p = init(layer_rng, input_shape)
            params.append(p)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        for fun, p, r in zip(apply_funs, params, _layer_rngs(kwargs, len(layers))):
            inputs = fun(p, inputs, rng=r, **kwargs)
        return inputs
    return init_fun, apply_fun


def parallel(*layers):
    """A list of inputs -> the list of each layer applied to its own input."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        rngs = random.split(rng, len(layers))
        return zip(*[init(r, s) for init, r, s in zip(init_funs, rngs, input_shape)])

    def apply_fun(params, inputs, **kwargs):
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in
                zip(apply_funs, params, inputs, _layer_rngs(kwargs, len(layers)))]
    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built by make_layer(input_shape) once the input shape is known."""
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(inputs.shape)[1](params, inputs, **kwargs)
    return init_fun, apply_fun
