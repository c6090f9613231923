#!/bin/sh
# Issue 15, deliver 2 (pair count): two pairs per step against SPOS with 4 paths per step (equal compute, twice the
# cost of a one-pair run), margin loss with the NASWOT teacher, at the CPU setting; SEEDS="0 1 2" for three seeds
# (the file resumes). Results in bench/results/rdnas_cifar_pairs.json.
set -e
python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 \
  --save-dir "${CKPT:-/tmp/rdnas_ckpt}" --out bench/results/rdnas_cifar_pairs.json \
  --variants spos4 rdnas-naswot:rank_loss=margin,rank_margin=0.1,pairs_per_step=2 --seeds ${SEEDS:-0}
