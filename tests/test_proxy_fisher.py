"""fisher counts each channel's saliency once per weight of the channel, as the zero-cost reference code sums it."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import compute_proxies, nb201_network
from nni_rank.proxies.common import scored_layers


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def reference(shared_data):
    return pd.read_csv(shared_data / 'nb201_zc_reference_cifar10.csv').sample(n=12, random_state=1)


@pytest.fixture(scope='module')
def batch(shared_data):
    return single_minibatch(load_cifar(str(shared_data / 'cifar10_train_10k.bin')), 64, seed=0)


def per_weight_fisher(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The reference's reading: channel saliency broadcast to every weight of the channel, then summed."""
    outputs = {}
    handles = [m.register_forward_hook(lambda m, i, o: outputs.setdefault(m, o)) for m in scored_layers(net)]
    net.train()
    loss = F.cross_entropy(net(x), y)
    for h in handles:
        h.remove()
    layers = list(outputs)
    grads = torch.autograd.grad(loss, [outputs[m] for m in layers])
    total = 0.0
    for m, g in zip(layers, grads):
        a = outputs[m].detach()
        per_image = (a * g).sum(dim=(2, 3)) if a.dim() == 4 else a * g
        channel = per_image.pow(2).mean(0) * 0.5
        total += float(channel.view(-1, *[1] * (m.weight.dim() - 1)).expand_as(m.weight).sum())
    return total


def test_fisher_is_summed_per_weight(batch, reference):
    x, y = batch
    for arch in reference["arch_str"][:3]:
        ours = compute_proxies(nb201_network(arch), batch, ['fisher'])['fisher']
        assert ours == pytest.approx(per_weight_fisher(nb201_network(arch), x, y), rel=1e-4)


def test_fisher_ranks_like_the_published_values(batch, reference):
    ours = [compute_proxies(nb201_network(a), batch, ['fisher'])['fisher'] for a in reference['arch_str']]
    ok = np.isfinite(ours) & np.isfinite(reference['fisher'].to_numpy())
    rho = spearmanr(np.asarray(ours)[ok], reference['fisher'].to_numpy()[ok])[0]
    print('fisher spearman vs published', rho)
    assert rho >= 0.9, rho
