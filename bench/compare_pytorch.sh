#!/usr/bin/env bash
# mindiff against the PyTorch twin of the U-Net, in one run on one machine (make bench-pytorch).
#
# Absolute times drift from run to run and machine to machine; only ratios taken side by side
# count. This script alternates the two programs ROUNDS times (default 3) on the same case and
# prints one JSON line per round and program, then a summary line with the median of each side
# and their ratio (mindiff / PyTorch: below 1 means mindiff is faster), and the same for the
# fastest run of each side over all rounds ("best"): on a shared machine, where other jobs slow
# some runs down, the best runs are the closest to what each program does undisturbed.
#
#   bench/compare_pytorch.sh [TWIN_DIR] [THREADS] [ROUNDS]
#     TWIN_DIR  folder holding bench_twin.py and unet_twin.py (default ../shared/reference)
#     THREADS   threads of both programs (default 2)
#
# Needs Debian's python3-torch (apt-get install python3-torch); the twin runs under
# /usr/bin/python3, where Debian installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
twin_dir=${1:-../shared/reference}
threads=${2:-2}
rounds=${3:-3}
bench=${BUILD:-build}/mindiff_bench
[ -f "$twin_dir/bench_twin.py" ] || { echo "compare_pytorch: no bench_twin.py in '$twin_dir'" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || {
  echo "compare_pytorch: PyTorch not found for /usr/bin/python3 (apt-get install python3-torch)" >&2; exit 1; }
[ -x "$bench" ] || { echo "compare_pytorch: $bench not built (make $bench)" >&2; exit 1; }

source bench/compare_util.sh
declare -a md_train md_fwd md_rss pt_train pt_fwd pt_rss md_train_min md_fwd_min pt_train_min pt_fwd_min
for ((r = 1; r <= rounds; r++)); do
  out=$("$bench" --threads "$threads" --case small_b64 2>&1 | grep '"config":"small"')
  echo "$out"
  md_fwd+=("$(field "$(grep unet_forward <<<"$out")" ms)")
  md_train+=("$(field "$(grep unet_train_step <<<"$out")" ms)")
  md_rss+=("$(field "$(grep unet_train_step <<<"$out")" peak_rss_mb)")
  md_fwd_min+=("$(field "$(grep unet_forward <<<"$out")" min_ms)")
  md_train_min+=("$(field "$(grep unet_train_step <<<"$out")" min_ms)")
  pt=$(cd "$twin_dir" && /usr/bin/python3 bench_twin.py --config small --batch 64 --threads "$threads" --no-flops)
  echo "$pt"
  pt_fwd+=("$(field "$pt" fwd_ms_median)")
  pt_train+=("$(field "$pt" train_ms_median)")
  pt_rss+=("$(field "$pt" peak_rss_mb)")
  pt_fwd_min+=("$(field "$pt" fwd_ms_min)")
  pt_train_min+=("$(field "$pt" train_ms_min)")
done
mt=$(median "${md_train[@]}"); pt=$(median "${pt_train[@]}")
mf=$(median "${md_fwd[@]}"); pf=$(median "${pt_fwd[@]}")
mr=$(median "${md_rss[@]}"); pr=$(median "${pt_rss[@]}")
mtb=$(minimum "${md_train_min[@]}"); ptb=$(minimum "${pt_train_min[@]}")
mfb=$(minimum "${md_fwd_min[@]}"); pfb=$(minimum "${pt_fwd_min[@]}")
awk -v mt="$mt" -v pt="$pt" -v mf="$mf" -v pf="$pf" -v mr="$mr" -v pr="$pr" -v th="$threads" -v n="$rounds" \
  -v mtb="$mtb" -v ptb="$ptb" -v mfb="$mfb" -v pfb="$pfb" \
  'BEGIN { printf "{\"case\":\"mindiff_vs_pytorch\",\"config\":\"small\",\"batch\":64,\"threads\":%d,\"rounds\":%d,\"train_ms\":{\"mindiff\":%.1f,\"pytorch\":%.1f,\"ratio\":%.3f},\"forward_ms\":{\"mindiff\":%.1f,\"pytorch\":%.1f,\"ratio\":%.3f},\"best_train_ms\":{\"mindiff\":%.1f,\"pytorch\":%.1f,\"ratio\":%.3f},\"best_forward_ms\":{\"mindiff\":%.1f,\"pytorch\":%.1f,\"ratio\":%.3f},\"train_peak_rss_mb\":{\"mindiff\":%.0f,\"pytorch\":%.0f}}\n", th, n, mt, pt, mt/pt, mf, pf, mf/pf, mtb, ptb, mtb/ptb, mfb, pfb, mfb/pfb, mr, pr }'
