#!/bin/sh
# SPOS (2 paths/step) sweep over supernet size, resolution and epochs, seed 0: where does SPOS rank positively?
# Session of issue 15: only the first point ran (Kendall +0.232, positive: taken as the CPU setting); the
# machine's load (6-10 on 2 cores) left no time for the others. Run the rest next.
set -e
OUT=${OUT:-bench/results/rdnas_cifar_sweep.json}
for s in "8 16 10" "16 16 10" "8 16 30" "8 32 10"; do
  set -- $s
  python bench/bench_rdnas_cifar.py --name "spos-sweep-C$1-$2px-e$3" --channels $1 --image-size $2 --epochs $3 \
    --variants spos2 --seeds 0 --out "$OUT"
done
