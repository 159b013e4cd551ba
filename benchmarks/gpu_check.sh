#!/usr/bin/env bash
# The device check, one command on a machine with an NVIDIA GPU (under 8 minutes):
#   1. the test suite with nnbox's tensors and modules on cuda (--device=cuda), slow tests left out;
#   2. ResNet18-CIFAR training throughput, the seeds' MLP and an LSTM, nnbox vs torch on the same GPU.
# Needs CuPy for the GPU's CUDA (pip install cupy-cuda12x) and a CUDA build of torch 2.13.0 (the oracle).
set -uo pipefail
cd "$(dirname "$0")/.."
python -c "import cupy, torch; assert cupy.cuda.runtime.getDeviceCount() > 0 and torch.cuda.is_available()" \
  || { echo "gpu_check: needs CuPy and a CUDA torch that both see a GPU" >&2; exit 2; }
status=0
echo "== 1/2 test suite on cuda (budget 300 s)"
timeout 300 python -m pytest -q -x -p no:cacheprovider --device=cuda -m "not slow" || status=$?
echo "== 2/2 training throughput, nnbox vs torch on the same GPU"
timeout 150 python benchmarks/bench_gpu.py --device cuda --repeats 5 || status=$?
exit $status
