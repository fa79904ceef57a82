#!/bin/sh
# Draws every picture of docs/samplers.md with the binaries themselves. From the repository root,
# after `make`:
#
#   sh docs/samplers/make_pictures.sh
#
# It trains the swiss roll model first if runs/swissroll has none (the 2-D toy defaults of
# `train`: about a minute on one core), then samples; everything runs on one thread with fixed
# seeds, so a rerun draws the same pictures.
set -e
out=docs/samplers
samplers="ancestral ddim euler-maruyama pc ode-euler ode-heun ode-rk45 dpm-solver++ edm-heun
edm-stochastic stochastic-localization langevin mala annealed-langevin walk-jump
multi-measurement jms"
run() { echo "$@"; "$@" > /dev/null; }

# Every sampler with its defaults on the exact score of the 8-Gaussian ring (grey: exact samples).
for s in $samplers; do
  run ./sample --target gmm8 --sampler "$s" --n 1000 --threads 1 --out "$out/gmm8_$s.png"
done

# ... and on a network trained with the defaults of `train` for 2-D data.
[ -f runs/swissroll/model.ckpt ] || run ./train --data swissroll --threads 1 --out runs/swissroll
for s in $samplers; do
  [ "$s" = mala ] && continue  # mala needs a log-density, which a network does not give
  run ./sample --checkpoint runs/swissroll --sampler "$s" --n 1000 --threads 1 \
      --out "$out/swissroll_$s.png"
done

# Where the chains at one level start: from a descent (the default) or from noise, on the trained
# swiss roll and on two unbalanced modes (weights 0.8 and 0.2, docs/samplers/unbalanced.txt).
for s in langevin walk-jump jms; do
  run ./sample --checkpoint runs/swissroll --sampler "$s" --chain-start noise --n 1000 --threads 1 \
      --out "$out/swissroll_${s}_from_noise.png"
done
for start in descent noise; do
  run ./sample --target "$out/unbalanced.txt" --sampler walk-jump --chain-start $start --n 1000 \
      --threads 1 --out "$out/unbalanced_walk-jump_from_$start.png"
done

# ... and on the shipped Fashion-MNIST model (64 samples each, classes in turn).
for start in descent noise; do
  run ./sample --sampler walk-jump --chain-start $start --n 64 --threads 1 \
      --out "$out/fashion_walk-jump_from_$start.png"
done

# A few trajectories (100 of the paths, from the start to the returned samples).
for s in ancestral ode-heun stochastic-localization annealed-langevin walk-jump multi-measurement; do
  run ./sample --target gmm8 --sampler "$s" --n 100 --threads 1 --out "$out/tmp.npy" \
      --trajectory "$out/trajectory_$s.png"
done
rm -f "$out/tmp.npy"

# Walk-jump's contraction as sigma grows, and multi-measurement's recovery as m grows.
for sigma in 0.1 0.3 0.6 1.0; do
  run ./sample --target gmm8 --sampler walk-jump --sigma $sigma --n 1000 --threads 1 \
      --out "$out/walk_jump_sigma_$sigma.png"
done
for m in 1 4 16 64; do
  run ./sample --target gmm8 --sampler multi-measurement --sigma 1.0 --measurements $m --n 1000 \
      --threads 1 --out "$out/multi_measurement_m_$m.png"
done

# Energies: the unadjusted chain and MALA at one large step on the banana, and the funnel.
for s in langevin mala; do
  run ./sample --target banana --sampler $s --step-size 0.1 --n 1000 --threads 1 \
      --out "$out/banana_${s}_step_0.1.png"
  run ./sample --target funnel --sampler $s --n 1000 --threads 1 --out "$out/funnel_$s.png"
done
