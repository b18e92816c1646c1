"""Builds bench/ulp_exhaustive.cpp with the host kernels' flags and runs it.

    python bench/ulp_exhaustive.py [FUNCTION ...] [--threads N]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from tinyjax.compiler import hostcc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('functions', nargs='*', default=['tanh'])
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    flags = [f for f in hostcc.FLAGS if f not in ('-shared', '-fPIC', '-w')]
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, 'ulp_exhaustive')
        cmd = [hostcc.compiler(), *flags, '-pthread', os.path.join(HERE, 'ulp_exhaustive.cpp'),
               '-o', exe, *hostcc.LIBS]
        print(' '.join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        for name in args.functions:
            subprocess.run([exe, name, str(args.threads)], check=True)


if __name__ == '__main__':
    main()
