#!/bin/sh
# The CPU comparison of this session (resumable: finished runs are skipped), one process at a time.
# Setting chosen by the SPOS sweep (bench/results/rdnas_cifar_sweep.json): C=8, 1 cell/stage, 16x16, 10 epochs.
set -e
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10"
$B --variants spos2 rdnas-flops --seeds 0 1 2 --save-dir /tmp/rdnas_ckpt
$B --variants rdnas-synflow rdnas-flops:rank_margin=0.5 rdnas-flops-margin-loss rdnas-flops-groups --seeds 0
