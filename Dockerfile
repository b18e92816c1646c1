# tinyjax in a container. The default command runs the main job (the MLP trainer).
#
#   docker build -t tinyjax .                              # GPU: CUDA 13 runtime image
#   docker run --gpus all tinyjax
#   docker build -t tinyjax-cpu --build-arg VARIANT=cpu .  # CPU only: python:3.11-slim
#   docker run tinyjax-cpu
#
# The CUDA image needs a host driver for CUDA 13 (>= 580). NVRTC, the CUDA headers and
# NCCL come from pip wheels (the `cuda` extra), so the small runtime image suffices.
ARG VARIANT=gpu
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-runtime-ubuntu24.04
ARG CPU_IMAGE=python:3.11-slim

FROM ${CUDA_IMAGE} AS base-gpu
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV TINYJAX_EXTRAS=cuda,examples,test

FROM ${CPU_IMAGE} AS base-cpu
RUN python -m venv /opt/venv
ENV TINYJAX_EXTRAS=examples,test TINYJAX_PLATFORM=cpu

# BuildKit builds only the base stage the variant names.
FROM base-${VARIANT}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/tinyjax
# Dependencies first (from setup.py, kernels/ and the version file alone), so that editing
# the source keeps this heavy layer (CuPy, NVRTC, NCCL) cached.
COPY setup.py pyproject.toml MANIFEST.in README.md ./
COPY kernels kernels
COPY tinyjax/__init__.py tinyjax/__init__.py
RUN pip install "setuptools>=64" wheel \
 && pip install ".[${TINYJAX_EXTRAS}]"
COPY . .
# The real package: a regular (non-editable) install; kernels/ ships inside it as
# tinyjax/_kernels. The check runs outside the source tree so it sees the installed copy.
RUN pip install --no-deps --force-reinstall . \
 && cd / && python -c "import tinyjax; print('tinyjax', tinyjax.__version__, 'kernels at', tinyjax.kernels_dir())"
CMD ["python", "-m", "tinyjax.examples.train_mlp"]
