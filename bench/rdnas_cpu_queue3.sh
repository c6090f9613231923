#!/bin/sh
# After bench/rdnas_cpu_queue2.sh: the NASWOT teacher on all three seeds, then supernet re-ranking in search
# with 20 seeds, with the RD-NAS and with the SPOS supernet.
set -e
while pgrep -f "sh bench/rdnas_cpu_queue2.sh" > /dev/null; do sleep 10; done
B="python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10 --channels 8 --image-size 16 --epochs 10 --save-dir /tmp/rdnas_ckpt"
$B --variants rdnas-naswot --seeds 1 2
for ck in rdnas-naswot rdnas-flops spos2; do
  python bench/bench_rdnas_search.py --load /tmp/rdnas_ckpt/cpu-C8-n1-16px-e10_${ck}_seed0.pt \
    --seeds 20 --budget 100 --rerank 3 --strategies zc-rea
done
