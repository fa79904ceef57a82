#!/usr/bin/env bash
# mindiff against the PyTorch twin of the U-Net on one GPU, in one run (make bench-pytorch-cuda).
#
# For each precision, fp32 (PyTorch with TF32 off for matmuls and cuDNN) and then tf32 (both on;
# mindiff with --precision tf32), the two programs alternate ROUNDS times (default 3) on the same
# case: the small U-Net at batch 64, its no-grad forward and its training step, defined alike
# (bench/bench_unet.cpp, bench/twin_cuda.py). One JSON line per round and program, then one
# summary line per precision with the median of each side and their ratio (mindiff / PyTorch:
# below 1 means mindiff is faster), and the same for each side's fastest run ("best").
#
#   bench/compare_pytorch_cuda.sh [TWIN_DIR] [ROUNDS] [PYTHON]
#     TWIN_DIR  folder holding unet_twin.py (default ../shared/reference; on a GPU machine where
#               ../shared is absent, copy it into a git-ignored folder of the checkout)
#     PYTHON    an interpreter with a CUDA build of PyTorch (default python3)
#
# Needs `make cuda` (build/mindiff_cuda_bench) and a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/compare_util.sh
twin_dir=${1:-../shared/reference}
rounds=${2:-3}
python=${3:-python3}
bench=${BUILD:-build}/mindiff_cuda_bench
[ -f "$twin_dir/unet_twin.py" ] || { echo "compare_pytorch_cuda: no unet_twin.py in '$twin_dir'" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null || {
  echo "compare_pytorch_cuda: PyTorch not found for $python" >&2; exit 1; }
[ -x "$bench" ] || { echo "compare_pytorch_cuda: $bench not built (make cuda)" >&2; exit 1; }

for precision in fp32 tf32; do
  md_train=(); md_fwd=(); pt_train=(); pt_fwd=(); md_train_min=(); md_fwd_min=(); pt_train_min=(); pt_fwd_min=()
  for ((r = 1; r <= rounds; r++)); do
    out=$("$bench" --unet --precision "$precision" --config small --batch 64 2>&1 | grep '"case":"unet_')
    echo "$out"
    md_fwd+=("$(field "$(grep unet_forward <<<"$out")" ms)")
    md_train+=("$(field "$(grep unet_train_step <<<"$out")" ms)")
    md_fwd_min+=("$(field "$(grep unet_forward <<<"$out")" min_ms)")
    md_train_min+=("$(field "$(grep unet_train_step <<<"$out")" min_ms)")
    pt=$("$python" bench/twin_cuda.py --twin "$twin_dir" --config small --batch 64 --precision "$precision")
    echo "$pt"
    pt_fwd+=("$(field "$pt" fwd_ms_median)")
    pt_train+=("$(field "$pt" train_ms_median)")
    pt_fwd_min+=("$(field "$pt" fwd_ms_min)")
    pt_train_min+=("$(field "$pt" train_ms_min)")
  done
  mt=$(median "${md_train[@]}"); pt=$(median "${pt_train[@]}")
  mf=$(median "${md_fwd[@]}"); pf=$(median "${pt_fwd[@]}")
  mtb=$(minimum "${md_train_min[@]}"); ptb=$(minimum "${pt_train_min[@]}")
  mfb=$(minimum "${md_fwd_min[@]}"); pfb=$(minimum "${pt_fwd_min[@]}")
  awk -v p="$precision" -v n="$rounds" -v mt="$mt" -v pt="$pt" -v mf="$mf" -v pf="$pf" \
    -v mtb="$mtb" -v ptb="$ptb" -v mfb="$mfb" -v pfb="$pfb" \
    'BEGIN { printf "{\"case\":\"mindiff_vs_pytorch_cuda\",\"precision\":\"%s\",\"config\":\"small\",\"batch\":64,\"rounds\":%d,\"train_ms\":{\"mindiff\":%.2f,\"pytorch\":%.2f,\"ratio\":%.3f},\"forward_ms\":{\"mindiff\":%.2f,\"pytorch\":%.2f,\"ratio\":%.3f},\"best_train_ms\":{\"mindiff\":%.2f,\"pytorch\":%.2f,\"ratio\":%.3f},\"best_forward_ms\":{\"mindiff\":%.2f,\"pytorch\":%.2f,\"ratio\":%.3f}}\n", p, n, mt, pt, mt/pt, mf, pf, mf/pf, mtb, ptb, mtb/ptb, mfb, pfb, mfb/pfb }'
done
