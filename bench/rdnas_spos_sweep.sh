#!/bin/sh
# SPOS (2 paths/step) sweep over supernet size, resolution and epochs, seed 0: where does SPOS rank positively?
# Kendall on the 200 subnets (bench/results/rdnas_cifar_sweep.json): C8/16px/10 ep +0.232, C16 +0.214, 30 epochs
# +0.269 (3x the compute), 32x32 +0.242 (4x): positive everywhere and flat in compute, so the cheapest point is
# the CPU setting.
set -e
OUT=${OUT:-bench/results/rdnas_cifar_sweep.json}
for s in "8 16 10" "16 16 10" "8 16 30" "8 32 10"; do
  set -- $s
  python bench/bench_rdnas_cifar.py --name "spos-sweep-C$1-$2px-e$3" --channels $1 --image-size $2 --epochs $3 \
    --variants spos2 --seeds 0 --out "$OUT"
done
