#!/usr/bin/env bash
# Everything owed on a GPU, in three phases that each fit one 10-minute device call.
#
#   bash bench/gpu_session.sh tests    OUTDIR   # the gpu tests, NCCL ranks, the suite on CuPy
#   bash bench/gpu_session.sh memcheck OUTDIR   # compute-sanitizer over the kernel tests
#   bash bench/gpu_session.sh bench    OUTDIR   # bench/run.py at full size and the side benches
#
# Run from the repository root (tinyjax is imported from the checkout). Every step writes
# its own log under OUTDIR and the script goes on when one fails, so one broken step
# still leaves the others' results; OUTDIR/summary.txt lists each step's exit status.
# The steps' own limits add up to more than a device call's 600 s, so each step gets at
# most what is left of GPU_SESSION_BUDGET (default 560 s) and a step with under 20 s left
# is skipped (rc=skip): the phase ends with its summary instead of being killed.
set -u
phase=${1:?usage: gpu_session.sh tests|memcheck|bench OUTDIR}
out=${2:?usage: gpu_session.sh tests|memcheck|bench OUTDIR}
mkdir -p "$out"
: >"$out/summary.txt"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TINYJAX_CACHE_DIR="${TINYJAX_CACHE_DIR:-$out/cache}"
py=${PYTHON:-python3}

budget=${GPU_SESSION_BUDGET:-560}

step() {   # step NAME SECONDS COMMAND...: run with a time limit, log, record the status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS left=$((budget - SECONDS))
    if [ "$left" -lt 20 ]; then
        printf '%-28s rc=%-4s %4ss\n' "$name" skip 0 | tee -a "$out/summary.txt"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    printf '%-28s rc=%-4s %4ss\n' "$name" "$rc" "$((SECONDS - t0))" | tee -a "$out/summary.txt"
}

environment() {
    nvidia-smi
    $py - <<'EOF'
import platform, numpy, cupy
print('python', platform.python_version(), 'numpy', numpy.__version__, 'cupy', cupy.__version__)
print('cuda runtime', cupy.cuda.runtime.runtimeGetVersion(), 'driver', cupy.cuda.runtime.driverGetVersion())
from tinyjax.compiler import nvrtc
print('nvrtc', nvrtc.version())
try:
    from cupy.cuda import nccl
    print('nccl', nccl.get_version())
except Exception as e:
    print('nccl unavailable:', e)
import tinyjax
print('tinyjax devices', tinyjax.devices())
EOF
}

case $phase in
tests)
    step environment 120 environment
    # Open question 1: a cubin from the NVRTC this image has, loaded by the driver.
    step cubin_loads 120 $py -c "import tinyjax as jax, tinyjax.numpy as jnp; print(jax.jit(lambda x: jnp.tanh(x) * 2)(jnp.arange(4.0)))"
    step pytest_gpu 240 $py -m pytest -q -m gpu -p no:cacheprovider tests
    # Open question 2: can N NCCL ranks share one GPU?
    step nccl_multirank 120 env NCCL_MULTI_RANK_GPU_ENABLE=1 $py -m pytest -q -p no:cacheprovider tests/test_pmap.py -k "gpu and nccl"
    # Longest last: whatever the budget leaves (-x: the first failure is the one to read).
    step pytest_all_cuda 420 env TINYJAX_PLATFORM=cuda $py -m pytest -q -x -p no:cacheprovider tests
    ;;
memcheck)
    if command -v compute-sanitizer >/dev/null; then
        step memcheck 540 compute-sanitizer --tool memcheck --error-exitcode 9 \
            $py -m pytest -q -m gpu -p no:cacheprovider tests/test_jit.py tests/test_jit_reduce.py tests/test_vector_path.py
        # Shared-memory hazards in tj_block_reduce (kernels/tj_reduce.cuh), if time is left.
        step racecheck 300 compute-sanitizer --tool racecheck --error-exitcode 9 \
            $py -m pytest -q -m gpu -p no:cacheprovider tests/test_jit_reduce.py
    else
        echo 'compute-sanitizer not found' | tee -a "$out/summary.txt"
    fi
    ;;
bench)
    step environment 120 environment
    step launch_overhead 120 $py bench/launch_overhead.py --json "$out/launch_overhead.json"
    step bench_run 360 $py bench/run.py --json "$out/bench.json" --md "$out/bench.md"
    step pmap_psum 120 $py bench/pmap_psum.py
    step vmap_per_example 120 $py bench/vmap_per_example.py
    step grad_overhead 120 $py bench/grad_overhead.py
    ;;
*)
    echo "unknown phase $phase (tests, memcheck or bench)" >&2
    exit 2
    ;;
esac
cat "$out/summary.txt"
