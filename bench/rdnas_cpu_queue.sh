#!/bin/sh
# The CPU comparison of this session, one process at a time, RD-NAS and SPOS seeds interleaved (resumable:
# finished runs are skipped). Setting chosen by the SPOS sweep (bench/results/rdnas_cifar_sweep.json):
# C=8, 1 cell/stage, 16x16, 10 epochs; at load 6-10 on 2 cores one run takes ~10 min.
set -e
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 --save-dir /tmp/rdnas_ckpt"
for seed in 0 1 2; do
  $B --variants rdnas-flops --seeds $seed
  $B --variants spos2 --seeds $seed
done
