#!/usr/bin/env bash
# The one-way layering of mindiff's folders, checked: every `#include "..."` in a library file or
# front end must name a file of its own layer or of a layer it may depend on. Prints each
# include that goes the wrong way (the file, the include, and what its layer may include) and
# exits 1 if there is one. `make test` runs it; `tests/check_layering.sh [ROOT]` checks the tree
# at ROOT (default: this repository). README's Folders section mirrors the table below.
#
# Layers, lowest first:
#   core       tensor/*.h, tensor/*.cpp: storage, shape, views, the device interface the CUDA
#              backend implements (tensor/device_backend.h); no math beyond fill, copy and +=
#   autograd   autograd/: nodes, the backward sweep, no-grad mode, gradient checks
#   shared     tensor/ops/*_math.h, tensor/ops/*_geometry.h: header-only math and geometry
#              that the CPU kernels and the CUDA kernels both compile
#   cuda       cuda/: kernels and launchers, the implementations of the device interface
#   ops        tensor/ops/ (the rest) and tensor/ops.h: every op, CPU kernel, backward, and the
#              one `if` that sends it to its CUDA launcher
#   data       data/: datasets, image and file I/O
#   nn         nn/: modules, the U-Net, optimizers, EMA, checkpoints, communicators
#   diffusion  diffusion/ (not app/): processes, objectives, denoisers, samplers, metrics
#   app        diffusion/app/: the front ends' plumbing (flags, run folders, progress, ...)
#   front      train.cpp, sample.cpp and any other *.cpp at the top
# bench/ and tests/ may include anything and are not checked.
set -u
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2

# layer: the layers it may include besides itself. The one home of the rules.
rules="
core:
autograd: core
shared: core
cuda: core shared
ops: core autograd shared cuda
data: core
nn: core autograd shared ops data
diffusion: core autograd shared ops data nn
app: core autograd shared ops data nn diffusion
front: core autograd shared ops data nn diffusion app
"

# Sets `layer` to the layer of a path relative to the root ("none" for a path in no layer).
layer_of() {
  case "$1" in
    tensor/ops.h) layer=ops ;;
    tensor/ops/*_math.h | tensor/ops/*_geometry.h) layer=shared ;;
    tensor/ops/*) layer=ops ;;
    tensor/*) layer=core ;;
    autograd/*) layer=autograd ;;
    cuda/*) layer=cuda ;;
    data/*) layer=data ;;
    nn/*) layer=nn ;;
    diffusion/app/*) layer=app ;;
    diffusion/*) layer=diffusion ;;
    */*) layer=none ;;
    *.cpp) layer=front ;;
    *) layer=none ;;
  esac
}

declare -A may_include
while IFS=: read -r name below; do
  [ -n "$name" ] && may_include[$name]="${below# }"
done <<< "$rules"

bad=0
files=$(find tensor autograd cuda data nn diffusion -type f \
          \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' \) 2>/dev/null;
        find . -maxdepth 1 -type f -name '*.cpp' | sed 's|^\./||')
for file in $(printf '%s\n' $files | sort); do
  layer_of "$file"
  from=$layer
  allowed=${may_include[$from]:-}
  # The quoted includes, one per line (system includes <...> are not the project's).
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
    layer_of "$inc"
    [ "$layer" = "$from" ] && continue
    case " $allowed " in *" $layer "*) continue ;; esac
    echo "check_layering: $file includes \"$inc\" (layer $layer); layer $from may include" \
         "only $from${allowed:+ $allowed}" >&2
    bad=1
  done
done
if [ "$bad" -ne 0 ]; then
  echo "check_layering: includes against the layering above (see tests/check_layering.sh)" >&2
  exit 1
fi
echo "check_layering: every include goes down the layers"
