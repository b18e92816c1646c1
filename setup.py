"""tinyjax: JAX's grad, jit, vmap and pmap, reimplemented GPU-first in Python.

`kernels/` (hand-written CUDA headers) sits beside the package in the source tree and is
installed inside it as `tinyjax/_kernels/`; `tinyjax.kernels_dir()` finds either.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r"^__version__ = '([^']+)'",
                    (HERE / 'tinyjax' / 'version.py').read_text(), re.M).group(1)

CUDA13 = [
    'cupy-cuda13x>=14.0',
    'nvidia-cuda-nvrtc>=13.0',     # NVRTC: generated kernels are compiled at run time
    'nvidia-cuda-runtime>=13.0',   # CUDA headers for NVRTC (-I), none ship with NVRTC
    'nvidia-nccl-cu13>=2.27',      # pmap collectives across GPUs
]
CUDA12 = [
    'cupy-cuda12x>=13.0',
    'nvidia-cuda-nvrtc-cu12>=12.0',
    'nvidia-cuda-runtime-cu12>=12.0',
    'nvidia-nccl-cu12>=2.18',
]

setup(
    name='tinyjax',
    version=VERSION,
    description="JAX's grad, jit, vmap and pmap, reimplemented GPU-first in Python",
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['tinyjax', 'tinyjax.*']) + ['tinyjax._kernels'],
    package_dir={'tinyjax._kernels': 'kernels'},
    package_data={'tinyjax._kernels': ['*.cuh', '*.h', '*.cpp', '*.md', '**/*.cuh', '**/*.h']},
    include_package_data=False,
    install_requires=['numpy>=1.24', 'ml_dtypes>=0.2'],
    extras_require={
        'cuda': CUDA13,
        'cuda12': CUDA12,
        'test': ['pytest>=7', 'hypothesis>=6'],
        'examples': ['scikit-learn', 'matplotlib'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Environment :: GPU :: NVIDIA CUDA',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
