#!/usr/bin/env bash
# The training-recipe study of docs/recipes.md: the same network trained with each recipe, then
# the project's FD (N = 1000, one sampler budget) of snapshots along each run against the CPU
# time that training took to reach them.
#
#   bench/recipe_study.sh train OUT      # trains every recipe, two at a time, one thread each
#   bench/recipe_study.sh score OUT      # scores every snapshot not scored yet -> OUT/results.csv
#
# Compute is the CPU time (user + system) of the training process, which `train` records in every
# checkpoint (cpu_seconds, summed over the processes of a resumed run): on a machine other jobs
# share it grows far less than wall time does. Snapshots are copies of the run's checkpoint.ckpt
# (written atomically by train) taken when it changes, so every run is one training run with one
# learning-rate schedule; a study stopped and started again resumes its runs.
# Scoring samples class-conditionally with the classes in turn and no guidance, so the table
# compares what each recipe learned rather than how it reacts to guidance.
#
# Environment: RECIPES (names to run, default all), THREADS (per process, default 1),
# PARALLEL (runs at once, default 2), SCORE_SAMPLERS (default "edm-heun:18"; a sampler a model's
# process cannot run, such as ddim on an EDM model, is passed over), TRAIN and SAMPLE
# (the binaries, default ./train and ./sample: copies keep a long study safe from rebuilds).
# Needs python3 (to read a checkpoint's step and CPU time).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: bench/recipe_study.sh train|score OUT}
out=${2:?usage: bench/recipe_study.sh train|score OUT}
threads=${THREADS:-1}
parallel=${PARALLEL:-2}
mkdir -p "$out"

# name | network | steps | checkpoint every | recipe flags
recipes() {
  cat <<'END'
ddpm-eps|small base=16 blocks=1|6000|1000|--schedule ddpm-linear --objective eps
edm|small base=16 blocks=1|6000|1000|--schedule edm --objective edm
v-cosine|small base=16 blocks=1|4000|1000|--schedule ddpm-cosine --objective v
eps-minsnr5|small base=16 blocks=1|4000|1000|--schedule ddpm-linear --objective eps --min-snr-gamma 5
ddpm-eps-4k|small base=16 blocks=1|4000|1000|--schedule ddpm-linear --objective eps
edm-4k|small base=16 blocks=1|4000|1000|--schedule edm --objective edm
END
}
# Settings every run shares (the shipped model's, README).
common="--conditional --batch 64 --lr 1e-3 --min-lr 5e-5 --warmup 200 --ema-decay 0.999 --sample-every 0"

# A checkpoint's step and recorded CPU seconds, "STEP CPU" (docs/checkpoint.md: the STEP section
# is the tag, a u64 length and a u64; an extra is a u32 length and the text, and the length bytes
# of a short value are below '0', so the digits after the key are the value).
step_and_cpu() {
  python3 -c 'import re, struct, sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"STEP")
m = re.search(rb"cpu_seconds.{4}([-0-9.e+]+)", d, re.S)
print(struct.unpack("<Q", d[i + 12:i + 20])[0], m.group(1).decode() if m else "")' "$1"
}

# Runs one recipe; copies its checkpoint at every change, with the CPU time it records.
train_one() {
  local name=$1 net=$2 steps=$3 every=$4 flags=$5 dir="$out/$1"
  mkdir -p "$dir/snapshots"
  [ -f "$dir/run/model.ckpt" ] && { echo "$name: done already"; return; }
  # shellcheck disable=SC2086
  "${TRAIN:-./train}" --config "$net" $common $flags --steps "$steps" --checkpoint-every "$every" \
    --threads "$threads" --log-every 500 --out "$dir/run" >>"$dir/train.log" 2>&1 &
  local pid=$!
  last=""
  while kill -0 "$pid" 2>/dev/null; do
    snapshot "$name" "$dir"
    sleep 2
  done
  wait "$pid" || { echo "$name: train failed, see $dir/train.log" >&2; return 1; }
  snapshot "$name" "$dir"  # the last checkpoint, written as train finished
  echo "$name: trained"
}

# Copies the run's checkpoint when it changed since the last call (global `last`).
snapshot() {
  local name=$1 dir=$2 ck="$2/run/checkpoint.ckpt"
  [ -f "$ck" ] && [ "$(stat -c %Y.%s "$ck")" != "$last" ] || return 0
  last=$(stat -c %Y.%s "$ck")
  cp "$ck" "$dir/snapshots/tmp.ckpt"  # a copy: train may replace the file at any time
  local at cpu
  read -r at cpu < <(step_and_cpu "$dir/snapshots/tmp.ckpt")
  if [ "$at" -gt 0 ] && [ -n "$cpu" ] && [ ! -f "$dir/snapshots/step_$at.ckpt" ]; then
    mv "$dir/snapshots/tmp.ckpt" "$dir/snapshots/step_$at.ckpt"
    echo "$name,$at,$cpu" >>"$dir/snapshots/cpu.csv"
  fi
}

score_one() {  # recipe name, snapshot step, sampler:steps
  local name=$1 step=$2 spec=$3 dir="$out/$1"
  local sampler=${spec%%:*} nsteps=${spec##*:}
  local log; log=$("${SAMPLE:-./sample}" --checkpoint "$dir/snapshots/step_$step.ckpt" \
    --sampler "$sampler" --steps "$nsteps" --n 1000 --out "$dir/snapshots/samples_$step.npy" \
    --score --threads "$threads" 2>&1) || return 0  # e.g. ddim on a process without DDPM steps
  local fd; fd=$(grep -m1 'samples .*N=1000' <<<"$log" | awk '{ print $NF }')
  local agree; agree=$(grep -o 'on [0-9]* of N=1000' <<<"$log" | tr -dc '0-9 ' | awk '{ print $1 / 10 }')
  local cpu; cpu=$(awk -F, -v s="$step" '$2 == s { print $3 }' "$dir/snapshots/cpu.csv" | tail -1)
  echo "$name,$step,$cpu,$sampler,$nsteps,$fd,$agree"
}

case "$mode" in
  train)
    selected=${RECIPES:-$(recipes | cut -d'|' -f1)}
    running=0
    while IFS='|' read -r name net steps every flags; do
      grep -qw -- "$name" <<<"$selected" || continue
      train_one "$name" "$net" "$steps" "$every" "$flags" &
      running=$((running + 1))
      if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
    done < <(recipes)
    wait
    ;;
  score)
    results="$out/results.csv"
    [ -f "$results" ] || echo "recipe,step,cpu_seconds,sampler,sampler_steps,fd,agreement_percent" >"$results"
    for spec in ${SCORE_SAMPLERS:-edm-heun:18}; do
      for dir in "$out"/*/snapshots; do
        name=$(basename "$(dirname "$dir")")
        for ck in "$dir"/step_*.ckpt; do
          [ -f "$ck" ] || continue
          step=$(basename "$ck" .ckpt); step=${step#step_}
          grep -q "^$name,$step,[^,]*,${spec%%:*},${spec##*:}," "$results" && continue
          score_one "$name" "$step" "$spec" | tee -a "$results"
        done
      done
    done
    ;;
  *) echo "recipe_study: unknown mode '$mode' (train or score)" >&2; exit 2 ;;
esac
