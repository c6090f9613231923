#!/bin/sh
# After bench/rdnas_cpu_queue.sh: the supernet inside search, then a screen of RD-NAS variants (seed 0).
set -e
while pgrep -f "sh bench/rdnas_cpu_queue.sh" > /dev/null; do sleep 10; done
python bench/bench_rdnas_search.py --load /tmp/rdnas_ckpt/cpu-C8-n1-16px-e10_rdnas-flops_seed0.pt \
  --seeds 10 --budget 50 --rerank 3
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 --save-dir /tmp/rdnas_ckpt"
$B --variants rdnas-naswot --seeds 0
$B --variants rdnas-flops:rank_margin=0.5 --seeds 0
