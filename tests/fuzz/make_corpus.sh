#!/usr/bin/env bash
# Rewrites the seed corpora in tests/fuzz/corpus/ (see make_corpus.cpp): builds the generator
# against the ordinary build's objects (`make` first), runs it, and adds gzip seeds compressed
# by gzip(1) itself (dynamic and fixed Huffman blocks, a file name field).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=tests/fuzz/corpus
for d in checkpoint idx gzip cifar10 image npy config flags; do mkdir -p "$root/$d"; done
objs=$(ls build/tensor/*.o build/tensor/ops/*.o build/autograd/*.o build/nn/*.o build/data/*.o \
          build/diffusion/network.o build/diffusion/app/classifier.o build/cuda/stub.o | grep -v mpi_communicator)
g++ -std=c++17 -O1 -fopenmp -I. tests/fuzz/make_corpus.cpp $objs build/nn/mpi_communicator.o \
    -o build/make_corpus -lstb $(mpicc --showme:link 2>/dev/null || true)
build/make_corpus "$root"
printf 'mindiff gzip seed: some text, some text, some text again\n' | gzip -9 -n > "$root/gzip/text.gz"
head -c 600 /dev/zero | gzip -1 > "$root/gzip/zeros_named.gz"
printf 'short' | gzip -n --fast > "$root/gzip/short.gz"
ls -l "$root"/*
