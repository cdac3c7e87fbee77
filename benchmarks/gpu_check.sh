#!/usr/bin/env bash
# One-command check on a CUDA machine: build the kernels (through `doctor`), run the GPU tests, run the
# benchmarks. Logs go to $OUT (or benchmarks/_out). Run from anywhere; uses the repo without installing.
#   bash benchmarks/gpu_check.sh            # everything (~5-10 minutes on an H100, first build included)
#   QUICK=1 bash benchmarks/gpu_check.sh    # build + tests + op benchmark only
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export SG3_EXPLORER_CACHE="${SG3_EXPLORER_CACHE:-$PWD/.sg3-cache}"
status=0

{ nvidia-smi || true; nvcc --version || true; ninja --version || true; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"; } 2>&1 | tee "$OUT/env.txt"

echo "== doctor (builds the kernels on first use)" | tee "$OUT/doctor.txt"
python3 -m stylegan3.cli.main doctor 2>&1 | tee -a "$OUT/doctor.txt" || status=1
for log in "$SG3_EXPLORER_CACHE"/extensions/*/build.log; do [ -f "$log" ] && cp "$log" "$OUT/build.log"; done

echo "== gpu tests" | tee "$OUT/gpu_tests.txt"
SG3_REQUIRE_CUDA_KERNELS=1 python3 -m pytest -m gpu -q -rs -p no:cacheprovider tests/ 2>&1 | tee -a "$OUT/gpu_tests.txt" || status=1

echo "== measured ceilings (copy bandwidth, matmul and FMA rates)" | tee "$OUT/ceilings.txt"
python3 -m benchmarks.ceilings --json "$OUT/ceilings.json" 2>&1 | tee -a "$OUT/ceilings.txt" || status=1

echo "== op benchmark" | tee "$OUT/bench_ops.txt"
python3 -m benchmarks.bench_ops 2>&1 | tee -a "$OUT/bench_ops.txt" || status=1

if [ -z "${QUICK:-}" ]; then
  echo "== synthesis benchmark" | tee "$OUT/bench_synthesis.txt"
  python3 -m benchmarks.bench_synthesis --warmup "${WARMUP:-5}" --iters "${ITERS:-20}" --json "$OUT/bench_synthesis.json" 2>&1 | tee -a "$OUT/bench_synthesis.txt" || status=1
  echo "== floor with the measured ceilings" | tee "$OUT/floor.txt"
  python3 -m benchmarks.floor --ceilings "$OUT/ceilings.json" 2>&1 | tee -a "$OUT/floor.txt" || status=1
fi
echo "gpu_check finished with status $status; logs in $OUT"
exit $status
