#!/usr/bin/env bash
# Everything the CUDA backend claims, checked on a machine with a GPU in one prepared run, with
# every log written to OUT (default gpu-logs/): what a short lease on a GPU is for.
#
#   bench/gpu_check.sh [OUT] [TWIN_DIR]
#
#   1. make cuda                       (nvcc, sm_80 and sm_90, warnings as errors)
#   2. build/mindiff_tests_cuda        the test suite with every CUDA test on the device
#   3. make cuda-bench                 kernel timings: every matmul rung at 256..4096, conv2d
#                                      by both algorithms, memory-bound kernels
#   4. mindiff_cuda_bench --unet       the small U-Net's step and forward, fp32 and tf32
#   5. make bench-pytorch-cuda         side by side with the PyTorch twin, when TWIN_DIR holds
#                                      unet_twin.py and python3 has a CUDA build of PyTorch
#   6. 1000 samples of the shipped model on the device, timed and scored
#   7. train_cuda itself, 300 steps of the small U-Net on Fashion-MNIST in fp32: the loop as a
#      user runs it (data loading, copies queued from pinned memory, losses read every 10 steps),
#      where the benchmarks above wait for the device after every run
# A step that fails is logged and the next one runs; the exit status is the number that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-logs}
twin=${2:-../shared/reference}
mkdir -p "$out"
failed=0
step() {  # step NAME COMMAND...: runs it, logs to OUT/NAME.log, records its status and time
  local name=$1; shift
  local t0=$SECONDS
  "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc, $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
  [ $rc -eq 0 ] || failed=$((failed + 1))
}
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
step build make -j"$(nproc)" cuda NVCC_EXTRA="-Werror all-warnings -Xcompiler -Werror"
step tests build/mindiff_tests_cuda --gtest_filter='Cuda*:Attention*'
step cuda_bench build/mindiff_cuda_bench
step unet_fp32 build/mindiff_cuda_bench --unet --precision fp32
step unet_tf32 build/mindiff_cuda_bench --unet --precision tf32
if [ -f "$twin/unet_twin.py" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  step pytorch bench/compare_pytorch_cuda.sh "$twin" 3 python3
else
  echo "pytorch: skipped (no unet_twin.py in $twin, or no CUDA build of PyTorch)" | tee -a "$out/summary.txt"
fi
step sample_fp32 ./sample_cuda --device cuda --n 1000 --batch 250 --score --out "$out/samples.npy"
step sample_tf32 ./sample_cuda --device cuda --precision tf32 --n 1000 --batch 250 --score --out "$out/samples_tf32.npy"
run_dir=$(mktemp -d)  # the run's checkpoints stay out of OUT; its loss log comes back
step train_fp32 ./train_cuda --device cuda --steps 300 --sample-every 0 --log-every 50 \
  --out "$run_dir/run"
cp "$run_dir/run/loss.csv" "$out/train_loss.csv" 2>/dev/null
rm -rf "$run_dir"
exit $failed
