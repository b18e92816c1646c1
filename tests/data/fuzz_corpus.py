"""Records JAX 0.10.2's outputs for the fuzzer's fixed corpus (tests/test_fuzz_programs.py).

Run with the JAX venv from the repository root:
    /work/jaxvenv/bin/python tests/data/fuzz_corpus.py
It writes tests/data/fuzz_corpus.npz: for seed s, output k is `s/k` (half floats stored
as float32, which holds them exactly) and `s/dtypes` names the output dtypes. Programs
JAX rejects are left out (the generator should not make any; it prints them). The
inputs carry no subnormals: XLA:CPU flushes them to zero, tinyjax does not (see
fuzz_programs._special).
"""
import os
import sys

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import fuzz_programs  # noqa: E402

CORPUS_SEEDS = range(300)


def record(seed):
    prog = fuzz_programs.make_program(seed)
    args = fuzz_programs.as_inputs(prog, fuzz_programs.make_inputs(prog, subnormals=False), jnp)
    outs = fuzz_programs.run(prog, jnp, lax, args)
    return outs


def main():
    data = {}
    for seed in CORPUS_SEEDS:
        try:
            outs = record(seed)
        except Exception as e:             # a generator bug: report it, keep going
            print(f'seed {seed}: {type(e).__name__}: {e}'[:300])
            continue
        data[f'{seed}/dtypes'] = np.array([str(o.dtype) for o in outs])
        for k, o in enumerate(outs):
            a = np.asarray(o)
            data[f'{seed}/{k}'] = a.astype(np.float32) if a.dtype.name in ('bfloat16', 'float16') else a
    np.savez_compressed(os.path.join(os.path.dirname(__file__), 'fuzz_corpus.npz'), **data)
    print(len(data), 'arrays from', len([k for k in data if k.endswith('/dtypes')]), 'programs')


if __name__ == '__main__':
    jax.config.update('jax_platforms', 'cpu')
    main()
