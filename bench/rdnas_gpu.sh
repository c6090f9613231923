#!/bin/sh
# Issue 15 on one GPU: SPOS (2 paths/step) against RD-NAS at equal compute: the paper's hinge loss (FLOPs teacher as
# the paper, NASWOT) and the margin loss, the best on CPU (FLOPs, synflow, NASWOT and zc_ensemble teachers), 3 seeds
# each, all runs in parallel
# processes on the one device; results merged into $OUT. At the paper's size the teachers are computed on the
# full-size NB201 networks, so no teacher table is needed.
#   PRESET=paper50  the paper's supernet (C=16, 5 cells/stage, 32x32, lr 0.025, augmentation) for 50 epochs
#   PRESET=paper    the same for 250 epochs (the paper's protocol: hours; give it the full CIFAR-10 folder)
#   PRESET=tiny DEVICE=cpu JOBS=2   a seconds-long check of this script on CPU
#   EPOCHS=2        override the preset's epochs (a timing probe before the real run)
# DATA: a CIFAR-10 folder (the official batches) or a folder with *train*/*test* .bin files and the NB201 CSV
# (default shared/data, i.e. carry ../shared/data as shared/data).
set -e
PRESET=${PRESET:-paper50}
DEVICE=${DEVICE:-cuda}
JOBS=${JOBS:-21}
DATA=${DATA:-shared/data}
OUT=${OUT:-bench/results/rdnas_gpu.json}
M=rank_loss=margin,rank_margin=0.1
VARIANTS=${VARIANTS:-spos2 rdnas-flops rdnas-naswot rdnas-flops:$M rdnas-synflow:$M rdnas-naswot:$M rdnas-zc_ensemble:$M}
python bench/bench_rdnas_cifar.py --preset "$PRESET" --device "$DEVICE" --jobs "$JOBS" --threads 1 \
  --data-dir "$DATA" --benchmark "${BENCHMARK:-$DATA/nb201_test_accuracy_200ep.csv}" \
  ${EPOCHS:+--epochs $EPOCHS} --variants $VARIANTS --seeds 0 1 2 --out "$OUT"
