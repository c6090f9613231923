#!/bin/sh
# Issue 15, deliver 2: teachers, samplers, loss forms, lambda schedules and strength at the CPU setting
# (C=8, 1 cell/stage, 16x16, 10 epochs, 200 subnets), 3 seeds each, one process after another; results merge
# into bench/results/rdnas_cifar.json (finished runs are skipped, so re-running resumes).
# ZC_TABLE: zc_ensemble of all 15,625 full-size cells (`nni-rank proxies --space nb201 --all --proxies zc_ensemble`,
# see bench/bench_label_free_all.py); REF_TABLE: NAS-Bench-Suite-Zero's values (shared data).
set -e
CKPT=${CKPT:-/tmp/rdnas_ckpt}
OUT=${OUT:-bench/results/rdnas_cifar.json}
DATA=${NNI_RANK_SHARED_DATA:-../shared/data}
ZC_TABLE=${ZC_TABLE:-/tmp/nni-rank-label-free-all/nb201_zc_ensemble.csv}
REF_TABLE=$DATA/nb201_zc_reference_cifar10.csv
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 --save-dir $CKPT --out $OUT"
T=bench/results/rdnas_cifar_teachers.json
M=rank_loss=margin,rank_margin=0.1
# teachers' zero-shot Kendall on the 200 subnets: computed at the supernet's size, and full-size from tables
$B --variants --teachers zc_ensemble --out $T
$B --variants --teachers zc_ensemble:full --teacher-table "$ZC_TABLE" --out $T
for t in naswot synflow jacob_cov flops; do $B --variants --teachers $t:full --teacher-table "$REF_TABLE" --out $T; done
# the project's label-free combination as the teacher (full-size table: at the supernet's size it ranks at +0.21)
$B --variants rdnas-zc_ensemble:teacher_table=full --teacher-table "$ZC_TABLE" --seeds 0 1 2
# the one-seed screens of the previous session, completed to 3 seeds
$B --variants rdnas-synflow rdnas-naswot:score_groups=4 --seeds 0 1 2
# loss form: a margin ranking loss on both subnets' losses (the bad one is pushed up too) instead of the hinge
$B --variants rdnas-naswot:$M --seeds 0 1 2
# ... with the other teachers (the weakest, FLOPs, too: can the student pass it?), the linear schedule, weight 8
$B --variants rdnas-zc_ensemble:teacher_table=full,$M --teacher-table "$ZC_TABLE" --seeds 0 1 2
$B --variants rdnas-flops:$M rdnas-synflow:$M rdnas-naswot:$M,rank_schedule=linear rdnas-naswot:$M,rank_weight=8 \
   --seeds 0 1 2
# (two pairs per step against spos4: bench/rdnas_pairs_runs.sh, in parallel with this script)
# strength beyond 8: does the student reach its teacher?
$B --variants rdnas-naswot:$M,rank_weight=32 --seeds 0 1 2
