#!/bin/sh
# The CPU runs behind bench/results/rdnas_cifar.json and rdnas_search.json, one process after another (finished
# runs are skipped: the results file is resumable). Setting from the SPOS sweep (bench/rdnas_spos_sweep.sh,
# rdnas_cifar_sweep.json): C=8, 1 cell/stage, 16x16, 10 epochs; one run took ~10 min at load 6-10 on 2 cores.
set -e
CKPT=${CKPT:-/tmp/rdnas_ckpt}
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 --save-dir $CKPT"
# equal compute, 3 seeds: SPOS with 2 paths per step against RD-NAS (FLOPs and NASWOT teachers)
$B --variants spos2 rdnas-flops rdnas-naswot --seeds 0 1 2
# one-seed screens (worse than the defaults on seed 0)
$B --variants rdnas-synflow rdnas-flops:rank_margin=0.5 rdnas-naswot:score_groups=4 --seeds 0
# the trained supernets inside zc-rea (their 3 best candidates per ordering re-ranked), 20 seeds
for ck in rdnas-naswot rdnas-flops spos2; do
  python bench/bench_rdnas_search.py --load "$CKPT/cpu-C8-n1-16px-e10_${ck}_seed0.pt" \
    --seeds 20 --budget 100 --rerank 3 --strategies zc-rea
done
