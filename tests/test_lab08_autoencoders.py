"""Tests for lab 08 (autoencoders and VAEs) beyond running the notebook.

Each graded cell's probe runs (in this process, through the real wire format) on the reference
answer, on correct answers written in other ways and on typical wrong answers, and its judge
compares the data with the reference's record at the same seed: the reference and the correct
answers must pass, every wrong answer must fail (lists WRONG and CORRECT below). The notebook's
teaching helpers and the public checks of its guided exercises get tests of their own, on small
generated tensors (no dataset needed).
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchbearer
from lab_notebook import LabCells, run_source
from torch import nn
from torch.distributions import Normal, kl_divergence

from course_utils import CheckFailed

matplotlib.use("Agg")

LAB = LabCells("lab08_autoencoders")
CODE_CELLS = {
    cell.get("id"): cell.source for cell in LAB.notebook.cells if cell.cell_type == "code"
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny tensors: one thread is quicker


_definition = LAB.definition


def _namespace(*names: str, **extra: Any) -> dict[str, Any]:
    """The imports cell, then the notebook's definitions of `names`, then `extra`."""
    ns: dict[str, Any] = {}
    run_source(CODE_CELLS["imports"], ns, "<imports>")
    for name in names:
        run_source(_definition(name), ns, f"<{name}>")
    ns.update(extra)
    return ns


def _reference(grade_id: str, name: str) -> Any:
    """The reference answer `name` defined by the notebook's solution cell `grade_id`."""
    return run_source(LAB.source(grade_id), _namespace(), f"<{grade_id}>")[name]


def _run_check(cell_id: str, **names: Any) -> None:
    """Run a public check cell of the teaching part with `names` defined."""
    ns = _namespace("count_parameters", "check_count", **names)
    ns.setdefault("examples", torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    run_source(CODE_CELLS[cell_id], ns, f"<{cell_id}>")


# ------------------------------------------------------------------ question 1: vae_loss


def vae_loss_distributions(recon, x, mu, logvar, reduction="mean"):
    """Correct: softplus form of the cross-entropy, KL from torch.distributions."""
    bce = (F.softplus(recon) - recon * x).flatten(start_dim=1).sum(dim=1)
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(dim=-1)
    total = bce + kl
    return total.sum() if reduction == "sum" else total.mean()


def vae_loss_sum_first(recon, x, mu, logvar, reduction="mean"):
    """Correct: sum everything over the batch, then divide for the mean."""
    total = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") - 0.5 * torch.sum(
        1 + logvar - mu**2 - logvar.exp()
    )
    return total / x.size(0) if reduction == "mean" else total


def vae_loss_float64(recon, x, mu, logvar, reduction="mean"):
    """Correct: computed (and returned) in float64; the question fixes no dtype."""
    r, xx, m, lv = (t.double() for t in (recon, x, mu, logvar))
    bce = (r.clamp(min=0) - r * xx + torch.log1p(torch.exp(-r.abs()))).reshape(len(r), -1).sum(1)
    total = bce + 0.5 * (m * m + lv.exp() - 1 - lv).sum(1)
    return total.mean() if reduction == "mean" else total.sum()


def vae_loss_image_loop(recon, x, mu, logvar, reduction="mean"):
    """Correct: one image at a time, then stacked."""
    losses = []
    for r, xx, m, lv in zip(recon, x, mu, logvar):
        bce = F.binary_cross_entropy_with_logits(r, xx, reduction="sum")
        losses.append(bce + 0.5 * torch.sum(m**2 + torch.exp(lv) - 1 - lv))
    total = torch.stack(losses).sum()
    return total if reduction == "sum" else total / len(losses)


def vae_loss_pixel_mean(recon, x, mu, logvar, reduction="mean"):
    """Wrong: averages the cross-entropy over pixels instead of summing it."""
    bce = F.binary_cross_entropy_with_logits(recon, x, reduction="none").flatten(1).mean(1)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    return (bce + kl).sum() if reduction == "sum" else (bce + kl).mean()


def vae_loss_kl_sign(recon, x, mu, logvar, reduction="mean"):
    """Wrong: subtracts the KL term."""
    return vae_loss_sum_first(recon, x, mu, logvar, reduction) - 2 * _kl(mu, logvar, reduction)


def vae_loss_no_half(recon, x, mu, logvar, reduction="mean"):
    """Wrong: forgets the factor 1/2 of the KL term."""
    return vae_loss_sum_first(recon, x, mu, logvar, reduction) + _kl(mu, logvar, reduction)


def vae_loss_probabilities(recon, x, mu, logvar, reduction="mean"):
    """Wrong (numerically): sigmoid first, then the cross-entropy of probabilities."""
    bce = F.binary_cross_entropy(torch.sigmoid(recon), x, reduction="sum")
    total = bce + _kl(mu, logvar, "sum")
    return total / len(x) if reduction == "mean" else total


def vae_loss_ignores_reduction(recon, x, mu, logvar, reduction="mean"):
    """Wrong: always the mean."""
    return vae_loss_sum_first(recon, x, mu, logvar, "mean")


def vae_loss_swapped_reductions(recon, x, mu, logvar, reduction="mean"):
    """Wrong: the sum for "mean" and the mean for "sum"."""
    return vae_loss_sum_first(recon, x, mu, logvar, "sum" if reduction == "mean" else "mean")


def vae_loss_logvar_as_logstd(recon, x, mu, logvar, reduction="mean"):
    """Wrong: reads logvar as log sigma."""
    kl = 0.5 * (mu**2 + torch.exp(2 * logvar) - 1 - 2 * logvar).sum(1)
    bce = F.binary_cross_entropy_with_logits(recon, x, reduction="none").flatten(1).sum(1)
    return (bce + kl).sum() if reduction == "sum" else (bce + kl).mean()


def vae_loss_kl_dim_mean(recon, x, mu, logvar, reduction="mean"):
    """Wrong: averages the KL term over latent dimensions."""
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(1)
    bce = F.binary_cross_entropy_with_logits(recon, x, reduction="none").flatten(1).sum(1)
    return (bce + kl).sum() if reduction == "sum" else (bce + kl).mean()


def vae_loss_no_kl(recon, x, mu, logvar, reduction="mean"):
    """Wrong: the reconstruction term alone."""
    bce = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
    return bce / len(x) if reduction == "mean" else bce


def vae_loss_clamps_targets_in_place(recon, x, mu, logvar, reduction="mean"):
    """Wrong: clamps x in place (through a view) to keep the logarithms away from 0 and 1."""
    x.view(len(x), -1).clamp_(1e-6, 1 - 1e-6)
    return vae_loss_sum_first(recon, x, mu, logvar, reduction)


def vae_loss_detached(recon, x, mu, logvar, reduction="mean"):
    """Wrong: the right number, but through .item(): nothing to differentiate."""
    return torch.tensor(vae_loss_sum_first(recon, x, mu, logvar, reduction).item())


def _kl(mu, logvar, reduction):
    """The KL term, reduced like the loss."""
    kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())
    return kl / len(mu) if reduction == "mean" else kl


# --------------------------------------------------------- question 2: reparameterise


def reparameterise_addcmul(mu, logvar, generator=None):
    """Correct: eps filled in place, fused multiply-add."""
    eps = torch.empty_like(mu).normal_(generator=generator)
    return torch.addcmul(mu, eps, logvar.mul(0.5).exp())


def reparameterise_sqrt(mu, logvar, generator=None):
    """Correct: sigma as the square root of the variance, eps from randn_like."""
    std = torch.sqrt(torch.exp(logvar))
    return mu + std * torch.randn_like(mu, generator=generator)


def reparameterise_box_muller(mu, logvar, generator=None):
    """Correct: other random numbers (Box-Muller from two uniforms of the generator), same distribution."""
    u1 = torch.rand(mu.shape, generator=generator, dtype=torch.float64).clamp(min=1e-300)
    u2 = torch.rand(mu.shape, generator=generator, dtype=torch.float64)
    eps = (torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)).to(mu.dtype)
    return mu + torch.exp(logvar / 2) * eps


def reparameterise_float64_inside(mu, logvar, generator=None):
    """Correct: eps in float64, the arithmetic in float64, the result back in mu's dtype."""
    eps = torch.randn(mu.shape, generator=generator, dtype=torch.float64)
    return (mu.double() + torch.exp(0.5 * logvar.double()) * eps).to(mu.dtype)


def reparameterise_variance_as_std(mu, logvar, generator=None):
    """Wrong: multiplies by the variance."""
    return mu + torch.exp(logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)


def reparameterise_global_rng(mu, logvar, generator=None):
    """Wrong: ignores the generator."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def reparameterise_same_seed(mu, logvar, generator=None):
    """Wrong: a fixed seed of its own: the same eps whatever the generator."""
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0), dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterise_sample(mu, logvar, generator=None):
    """Wrong: no gradient through the draw."""
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
    return Normal(mu, torch.exp(0.5 * logvar)).sample()


def reparameterise_detached_sigma(mu, logvar, generator=None):
    """Wrong: no gradient to logvar."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar.detach()) * eps


def reparameterise_shared_eps(mu, logvar, generator=None):
    """Wrong: one eps per latent dimension, shared by all images."""
    eps = torch.randn(mu.shape[-1], generator=generator, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterise_uniform(mu, logvar, generator=None):
    """Wrong: zero-mean, unit-variance noise that is not Gaussian."""
    eps = (torch.rand(mu.shape, generator=generator, dtype=mu.dtype) - 0.5) * math.sqrt(12)
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterise_always_float32(mu, logvar, generator=None):
    """Wrong: float32 whatever mu's dtype."""
    eps = torch.randn(mu.shape, generator=generator)
    return (mu + torch.exp(0.5 * logvar) * eps).float()


def reparameterise_no_mean(mu, logvar, generator=None):
    """Wrong: forgets to add mu."""
    return torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)


# ------------------------------------------------------------ question 3: latent_grid


def latent_grid_loops(n, lim):
    """Correct: Python loops, row by row."""
    step = 2 * lim / (n - 1)
    return torch.tensor([[-lim + c * step, lim - r * step] for r in range(n) for c in range(n)])


def latent_grid_cartesian(n, lim):
    """Correct: cartesian product of (z2 descending, z1 ascending), columns swapped."""
    z2 = torch.linspace(lim, -lim, n)
    z1 = torch.linspace(-lim, lim, n)
    return torch.cartesian_prod(z2, z1).flip(1)


def latent_grid_xy(n, lim):
    """Correct: meshgrid with 'xy' indexing."""
    values = torch.linspace(-lim, lim, n)
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")
    return torch.stack([z1.flatten(), z2.flatten()], dim=-1)


def latent_grid_numpy(n, lim):
    """Correct: NumPy in float64, converted to a float32 tensor at the end."""
    values = np.linspace(-lim, lim, n)
    z1 = np.tile(values, n)
    z2 = np.repeat(values[::-1], n)
    return torch.from_numpy(np.column_stack([z1, z2])).float()


def latent_grid_upside_down(n, lim):
    """Wrong: z2 grows downwards."""
    values = torch.linspace(-lim, lim, n)
    z2, z1 = torch.meshgrid(values, values, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


def latent_grid_column_major(n, lim):
    """Wrong: column by column."""
    values = torch.linspace(-lim, lim, n)
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


def latent_grid_float64(n, lim):
    """Wrong: float64 (the question asks for float32)."""
    return latent_grid_xy(n, lim).double()


def latent_grid_no_endpoint(n, lim):
    """Wrong: arange stops short of +lim."""
    values = torch.arange(n) * (2 * lim / n) - lim
    z1, z2 = torch.meshgrid(values, values.flip(0), indexing="xy")
    return torch.stack([z1.flatten(), z2.flatten()], dim=-1)


def latent_grid_swapped(n, lim):
    """Wrong: rows are (z2, z1)."""
    return latent_grid_xy(n, lim).flip(1)


def latent_grid_ignores_lim(n, lim):
    """Wrong: always the square [-3, 3]^2."""
    return latent_grid_xy(n, 3.0)


# ------------------------------------------------------------ question 4: decode_grid


def decode_grid_inference_mode(decoder, grid):
    """Correct: inference mode, batches of 7 codes, view."""
    decoder.train(False)
    device = next(decoder.parameters()).device
    pictures = []
    with torch.inference_mode():
        for start in range(0, len(grid), 7):
            pictures.append(
                decoder(grid[start : start + 7].to(device)).sigmoid().view(-1, 1, 28, 28)
            )
    return torch.cat(pictures).cpu()


@torch.no_grad()
def decode_grid_decorated(decoder, grid):
    """Correct: no_grad as a decorator, unflatten."""
    decoder.eval()
    logits = decoder(grid).reshape(len(grid), -1)
    return torch.sigmoid(logits).unflatten(1, (1, 28, 28))


def decode_grid_one_by_one(decoder, grid):
    """Correct: each code on its own, probabilities as 1 / (1 + exp(-logit))."""
    decoder.eval()
    with torch.no_grad():
        pictures = [1 / (1 + torch.exp(-decoder(code[None]))) for code in grid]
    return torch.cat([p.reshape(1, 1, 28, 28) for p in pictures])


def decode_grid_train_mode(decoder, grid):
    """Wrong: dropout stays on."""
    with torch.no_grad():
        return torch.sigmoid(decoder(grid)).reshape(-1, 1, 28, 28)


def decode_grid_logits(decoder, grid):
    """Wrong: returns logits."""
    decoder.eval()
    with torch.no_grad():
        return decoder(grid).reshape(-1, 1, 28, 28)


def decode_grid_detach(decoder, grid):
    """Wrong: tracks gradients, then detaches."""
    decoder.eval()
    return torch.sigmoid(decoder(grid)).reshape(-1, 1, 28, 28).detach()


def decode_grid_flat(decoder, grid):
    """Wrong: (n*n, 784) pictures."""
    decoder.eval()
    with torch.no_grad():
        return torch.sigmoid(decoder(grid)).reshape(len(grid), -1)


def decode_grid_float64(decoder, grid):
    """Wrong: float64 pictures (the question asks for float32)."""
    return decode_grid_decorated(decoder, grid).double()


def decode_grid_reversed(decoder, grid):
    """Wrong: decodes the grid from its last code to its first."""
    return decode_grid_decorated(decoder, grid.flip(0))


# ------------------------------------------------------------ question 7: importance sampling


def _iw_parts(model, x, eps, log_sigma_from_logvar=0.5, decode_mu=False):
    """log p(x|z), log p(z), log q(z|x) per code (K x B) and the codes, the way answers below build them."""
    k = eps.shape[0]
    mu, logvar = model.encode(x)
    std = torch.exp(log_sigma_from_logvar * logvar)
    z = mu + std * eps
    decoded = mu.expand_as(z) if decode_mu else z
    logits = model.decode(decoded.reshape(-1, z.shape[-1])).reshape(k, *x.shape)
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").flatten(2).sum(2)
    return log_px_z, Normal(0.0, 1.0).log_prob(z).sum(2), Normal(mu, std).log_prob(z).sum(2)


def iw_distributions(model, x, eps):
    """Correct: Bernoulli and Normal distributions from torch.distributions."""
    from torch.distributions import Bernoulli, Independent

    mu, logvar = model.encode(x)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    z = mu + torch.exp(0.5 * logvar) * eps
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    logits = model.decode(z.flatten(0, 1)).reshape(eps.shape[0], *x.shape)
    likelihood = Independent(Bernoulli(logits=logits, validate_args=False), 3)
    # Bernoulli.log_prob accepts grey levels through the logits form: x log p + (1 - x) log(1 - p)
    log_w = likelihood.log_prob(x.expand_as(logits)) + prior.log_prob(z) - q.log_prob(z)
    return torch.logsumexp(log_w, 0) - math.log(eps.shape[0])


def iw_loop(model, x, eps):
    """Correct: one code at a time, a running log-sum-exp, in float64."""
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    total = None
    for e in eps:
        z = mu + std * e
        logits = model.decode(z)
        log_w = (-F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
                 + (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(1)
                 - (-0.5 * e**2 - 0.5 * math.log(2 * math.pi) - 0.5 * logvar).sum(1)).double()
        total = log_w if total is None else torch.logaddexp(total, log_w)
    return total - math.log(len(eps))


def iw_manual_max(model, x, eps):
    """Correct: log-mean-exp by subtracting the maximum by hand."""
    log_w = sum(part * sign for part, sign in zip(_iw_parts(model, x, eps), (1, 1, -1)))
    top = log_w.max(dim=0).values
    return top + torch.log(torch.exp(log_w - top).mean(dim=0))


def iw_elbo(model, x, eps):
    """Wrong: the mean of the log-weights (the ELBO estimate)."""
    a, b, c = _iw_parts(model, x, eps)
    return (a + b - c).mean(0)


def iw_no_log_k(model, x, eps):
    """Wrong: logsumexp without - log K."""
    a, b, c = _iw_parts(model, x, eps)
    return torch.logsumexp(a + b - c, 0)


def iw_naive_exp(model, x, eps):
    """Wrong: exp of the log-weights underflows to 0."""
    a, b, c = _iw_parts(model, x, eps)
    return torch.log(torch.exp(a + b - c).mean(0))


def iw_no_prior(model, x, eps):
    """Wrong: log p(z) left out."""
    a, _, c = _iw_parts(model, x, eps)
    return torch.logsumexp(a - c, 0) - math.log(eps.shape[0])


def iw_no_posterior(model, x, eps):
    """Wrong: log q(z|x) left out."""
    a, b, _ = _iw_parts(model, x, eps)
    return torch.logsumexp(a + b, 0) - math.log(eps.shape[0])


def iw_logvar_as_log_sigma(model, x, eps):
    """Wrong: sigma = exp(logvar)."""
    a, b, c = _iw_parts(model, x, eps, log_sigma_from_logvar=1.0)
    return torch.logsumexp(a + b - c, 0) - math.log(eps.shape[0])


def iw_decodes_mu(model, x, eps):
    """Wrong: the decoder sees mu, not z."""
    a, b, c = _iw_parts(model, x, eps, decode_mu=True)
    return torch.logsumexp(a + b - c, 0) - math.log(eps.shape[0])


def iw_own_noise(model, x, eps):
    """Wrong: draws its own noise instead of using eps."""
    return iw_elbo(model, x, torch.randn_like(eps)) if eps.shape[0] == 1 else iw_no_log_k(model, x, torch.randn_like(eps)) - math.log(eps.shape[0])


def iw_batch_mean(model, x, eps):
    """Wrong: mean over the batch, a single number."""
    a, b, c = _iw_parts(model, x, eps)
    return (torch.logsumexp(a + b - c, 0) - math.log(eps.shape[0])).mean()


# ------------------------------------------------------------ the lists, as data

REFERENCE_ANSWERS = {
    "q1-vae-loss-tests": ("q1-vae-loss", "vae_loss"),
    "q2-reparameterise-tests": ("q2-reparameterise", "reparameterise"),
    "q3-latent-grid-tests": ("q3-latent-grid", "latent_grid"),
    "q4-decode-grid-tests": ("q4-decode-grid", "decode_grid"),
    "q7-importance-tests": ("q7-importance", "importance_log_likelihood"),
}

WRONG = {  # grade id -> typical wrong answers, each must lose the question's points
    "q1-vae-loss-tests": [
        vae_loss_pixel_mean, vae_loss_kl_sign, vae_loss_no_half, vae_loss_probabilities,
        vae_loss_ignores_reduction, vae_loss_swapped_reductions, vae_loss_logvar_as_logstd,
        vae_loss_kl_dim_mean, vae_loss_no_kl, vae_loss_clamps_targets_in_place, vae_loss_detached,
    ],
    "q2-reparameterise-tests": [
        reparameterise_variance_as_std, reparameterise_global_rng, reparameterise_same_seed,
        reparameterise_sample, reparameterise_detached_sigma, reparameterise_shared_eps,
        reparameterise_uniform, reparameterise_always_float32, reparameterise_no_mean,
    ],
    "q3-latent-grid-tests": [
        latent_grid_upside_down, latent_grid_column_major, latent_grid_float64,
        latent_grid_no_endpoint, latent_grid_swapped, latent_grid_ignores_lim,
    ],
    "q4-decode-grid-tests": [
        decode_grid_train_mode, decode_grid_logits, decode_grid_detach, decode_grid_flat,
        decode_grid_float64, decode_grid_reversed,
    ],
    "q7-importance-tests": [
        iw_elbo, iw_no_log_k, iw_naive_exp, iw_no_prior, iw_no_posterior, iw_logvar_as_log_sigma,
        iw_decodes_mu, iw_own_noise, iw_batch_mean,
    ],
}

CORRECT = {  # grade id -> correct answers written differently from the reference, each must pass
    "q1-vae-loss-tests": [vae_loss_distributions, vae_loss_sum_first, vae_loss_float64, vae_loss_image_loop],
    "q2-reparameterise-tests": [
        reparameterise_addcmul, reparameterise_sqrt, reparameterise_box_muller, reparameterise_float64_inside,
    ],
    "q3-latent-grid-tests": [latent_grid_loops, latent_grid_cartesian, latent_grid_xy, latent_grid_numpy],
    "q4-decode-grid-tests": [decode_grid_inference_mode, decode_grid_decorated, decode_grid_one_by_one],
    "q7-importance-tests": [iw_distributions, iw_loop, iw_manual_max],
}

STOCHASTIC = ("q2-reparameterise-tests",)  # judged by distributions: checked under 20 seeds


def _answer_namespace(grade_id: str, answer: Any) -> dict[str, Any]:
    """The notebook's imports with `answer` under the name the question asks for."""
    return _namespace(**{REFERENCE_ANSWERS[grade_id][1]: answer})


def _reference_namespace(grade_id: str) -> dict[str, Any]:
    return _answer_namespace(grade_id, _reference(*REFERENCE_ANSWERS[grade_id]))


@functools.cache
def _reference_record(grade_id: str, seed: int):
    """The reference solution's probe data for `grade_id` at `seed` (what the grader keeps)."""
    record = LAB.probe(grade_id, _reference_namespace(grade_id), seed)
    assert record.ok, record.error
    return record


def _verdict(grade_id: str, answer: Any, seed: int = 0):
    return LAB.verdict(grade_id, _answer_namespace(grade_id, answer), _reference_record(grade_id, seed), seed)


def _cases(table: dict[str, list]) -> list:
    return [pytest.param(gid, fn, id=f"{gid.split('-')[0]}-{fn.__name__}") for gid, fns in table.items() for fn in fns]


def test_the_lists_are_long_enough():
    assert sum(len(fns) for fns in WRONG.values()) >= 8
    assert all(len(fns) >= 3 for fns in CORRECT.values())
    assert set(WRONG) == set(CORRECT) == set(REFERENCE_ANSWERS) == {
        gid for gid, cell in LAB.cells.items()
        if cell.cell_type == "code" and cell.metadata["nbgrader"].get("grade") and not cell.metadata["nbgrader"].get("solution")
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grade_id", sorted(REFERENCE_ANSWERS))
def test_reference_passes_its_own_judge(grade_id, seed):
    verdict = LAB.verdict(grade_id, _reference_namespace(grade_id), _reference_record(grade_id, seed), seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("grade_id", "answer"), _cases(CORRECT))
def test_correct_answers_written_differently_pass(grade_id, answer, seed):
    verdict = _verdict(grade_id, answer, seed)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("grade_id", "answer"), _cases(WRONG))
def test_wrong_answers_fail(grade_id, answer, seed):
    assert LAB.fails(grade_id, _answer_namespace(grade_id, answer), _reference_record(grade_id, seed), seed)


@pytest.mark.parametrize("grade_id", STOCHASTIC)
def test_stochastic_questions_pass_the_reference_and_an_alternative_for_20_seeds(grade_id):
    for seed in range(20):
        reference = _reference_namespace(grade_id)
        assert LAB.passes(grade_id, reference, reference, seed), seed
        for answer in CORRECT[grade_id]:  # Box-Muller draws other random numbers
            verdict = LAB.verdict(grade_id, _answer_namespace(grade_id, answer), reference, seed)
            assert verdict.passed, (seed, answer.__name__, verdict.message)


@pytest.mark.parametrize(("grade_id", "answer"), _cases(CORRECT))
def test_correct_answers_pass_the_visible_checks(grade_id, answer):
    ns = _answer_namespace(grade_id, answer)
    torch.manual_seed(0)
    LAB.run_visible(grade_id, ns)


@pytest.mark.parametrize(
    ("grade_id", "answer", "words"),
    [
        ("q1-vae-loss-tests", vae_loss_ignores_reduction, "reduction"),
        ("q1-vae-loss-tests", vae_loss_swapped_reductions, "reduction"),
        ("q1-vae-loss-tests", vae_loss_no_half, "factor 1/2"),
        ("q1-vae-loss-tests", vae_loss_kl_sign, "subtracted"),
        ("q1-vae-loss-tests", vae_loss_pixel_mean, "averaged over the pixels"),
        ("q1-vae-loss-tests", vae_loss_kl_dim_mean, "averaged over the latent dimensions"),
        ("q1-vae-loss-tests", vae_loss_logvar_as_logstd, "log sigma"),
        ("q1-vae-loss-tests", vae_loss_no_kl, "KL term is missing"),
        ("q1-vae-loss-tests", vae_loss_clamps_targets_in_place, "in place"),
        ("q1-vae-loss-tests", vae_loss_detached, "differentiated"),
        ("q1-vae-loss-tests", vae_loss_probabilities, "logits form"),
        ("q2-reparameterise-tests", reparameterise_variance_as_std, "exp(logvar / 2)"),
        ("q2-reparameterise-tests", reparameterise_global_rng, "generator"),
        ("q2-reparameterise-tests", reparameterise_same_seed, "different generator seeds"),
        ("q2-reparameterise-tests", reparameterise_shared_eps, "eps"),
        ("q2-reparameterise-tests", reparameterise_uniform, "standard normal"),
        ("q2-reparameterise-tests", reparameterise_always_float32, "float64"),
        ("q2-reparameterise-tests", reparameterise_sample, "no gradient"),
        ("q2-reparameterise-tests", reparameterise_detached_sigma, "no gradient reaches logvar"),
        ("q3-latent-grid-tests", latent_grid_upside_down, "z2 grows"),
        ("q3-latent-grid-tests", latent_grid_column_major, "column by column"),
        ("q3-latent-grid-tests", latent_grid_no_endpoint, "stop short"),
        ("q3-latent-grid-tests", latent_grid_swapped, "swapped"),
        ("q3-latent-grid-tests", latent_grid_float64, "float32"),
        ("q3-latent-grid-tests", latent_grid_ignores_lim, "is lim used"),
        ("q4-decode-grid-tests", decode_grid_train_mode, "eval()"),
        ("q4-decode-grid-tests", decode_grid_logits, "sigmoid"),
        ("q4-decode-grid-tests", decode_grid_detach, "no_grad"),
        ("q4-decode-grid-tests", decode_grid_flat, "shape"),
        ("q7-importance-tests", iw_elbo, "mean of the log-weights"),
        ("q7-importance-tests", iw_no_log_k, "subtract log K"),
        ("q7-importance-tests", iw_naive_exp, "logsumexp"),
        ("q7-importance-tests", iw_no_prior, "log p(z) is missing"),
        ("q7-importance-tests", iw_no_posterior, "log q(z|x) is missing"),
        ("q7-importance-tests", iw_logvar_as_log_sigma, "log sigma"),
        ("q7-importance-tests", iw_decodes_mu, "mu instead of the codes"),
        ("q7-importance-tests", iw_batch_mean, "shape"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_judges_name_the_mistake(grade_id, answer, words):
    verdict = _verdict(grade_id, answer, seed=3)
    assert not verdict.passed
    assert words in verdict.message, verdict.message


def test_vae_loss_probabilities_pass_the_visible_checks_only():
    """The numerically naive answer is caught by the judge, not by the visible checks."""
    LAB.run_visible("q1-vae-loss-tests", _namespace(vae_loss=vae_loss_probabilities))
    verdict = _verdict("q1-vae-loss-tests", vae_loss_probabilities)
    assert not verdict.passed


def test_vae_loss_gives_a_hint_when_logits_are_read_as_probabilities():
    def probabilities_only(recon, x, mu, logvar, reduction="mean"):
        raise RuntimeError("all elements of input should be between 0 and 1")

    with pytest.raises(CheckFailed, match="logits"):
        LAB.run_visible("q1-vae-loss-tests", _namespace(vae_loss=probabilities_only))
    assert not _verdict("q1-vae-loss-tests", probabilities_only).passed


def test_a_faked_probe_record_cannot_pass_by_echoing_the_inputs():
    """The judge computes the expected losses from the reference's inputs, not from the student's."""
    record = _reference_record("q1-vae-loss-tests", 0)
    forged = copy.deepcopy(record.data)
    for case in forged["cases"]:
        case["inputs"] = [np.zeros_like(a) for a in case["inputs"]]
        for key in ("mean", "sum", "default"):
            case[key]["value"] = np.zeros((), dtype=np.float32)
    from autograder.judge.judging import judge_record
    from autograder.judge.wire import ProbeRecord

    verdict = judge_record(LAB.hidden_test("q1-vae-loss-tests"), ProbeRecord(True, forged), record)
    assert not verdict.passed


def test_latent_grid_example_in_the_question():
    grid = _reference("q3-latent-grid", "latent_grid")(2, 1.0)
    assert grid.tolist() == [[-1, 1], [1, 1], [-1, -1], [1, -1]]


# ------------------------------------------------------------ the teaching part's exercises


def _solution(cell_id: str, name: str) -> Any:
    return run_source(CODE_CELLS[cell_id], _namespace(), f"<{cell_id}>")[name]


def test_dense_autoencoder_reference_passes_its_check():
    _run_check(
        "dense-autoencoder-check",
        DenseAutoencoder=_solution("dense-autoencoder", "DenseAutoencoder"),
    )


def test_dense_autoencoder_without_attributes_fails_its_check():
    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Linear(32, 784))

        def forward(self, x):
            return self.net(x).view(-1, 1, 28, 28)

    with pytest.raises(CheckFailed, match="encoder"):
        _run_check("dense-autoencoder-check", DenseAutoencoder=Flat)


def test_conv_autoencoder_reference_passes_its_check():
    _run_check(
        "conv-autoencoder-check",
        ConvAutoencoder=_solution("conv-autoencoder", "ConvAutoencoder"),
        dense=_solution("dense-autoencoder", "DenseAutoencoder")(),
    )


def test_conv_autoencoder_without_output_padding_fails_its_check():
    reference = _solution("conv-autoencoder", "ConvAutoencoder")

    class NoOutputPadding(reference):
        def __init__(self):
            super().__init__()
            self.decoder[3] = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1)

    with pytest.raises(CheckFailed, match="output_padding"):
        _run_check(
            "conv-autoencoder-check",
            ConvAutoencoder=NoOutputPadding,
            dense=_solution("dense-autoencoder", "DenseAutoencoder")(),
        )


def test_add_noise_reference_passes_its_check():
    _run_check("add-noise-check", add_noise=_solution("add-noise", "add_noise"))


@pytest.mark.parametrize(
    "wrong",
    [
        lambda images, std, generator=None: (
            images + std * torch.randn(images.shape, generator=generator)
        ),
        lambda images, std, generator=None: (images + std * torch.randn_like(images)).clamp(0, 1),
        lambda images, std, generator=None: images.add_(
            std * torch.randn(images.shape, generator=generator)
        ).clamp(0, 1),
    ],
    ids=["unclipped", "global-rng", "in-place"],
)
def test_add_noise_wrong_answers_fail_its_check(wrong):
    with pytest.raises(CheckFailed):
        _run_check("add-noise-check", add_noise=wrong)


def test_vae_reference_passes_its_check():
    _run_check("vae-model-check", VAE=_solution("vae-model", "VAE"))


def test_vae_that_samples_without_gradients_fails_its_check():
    reference = _solution("vae-model", "VAE")

    class SampleVAE(reference):
        def forward(self, x):
            mu, logvar = self.encode(x)
            return self.decode(Normal(mu, torch.exp(0.5 * logvar)).sample()), mu, logvar

    with pytest.raises(CheckFailed, match="rsample"):
        _run_check("vae-model-check", VAE=SampleVAE)


def test_vae_that_decodes_the_mean_fails_its_check():
    reference = _solution("vae-model", "VAE")

    class MeanVAE(reference):
        def forward(self, x):
            mu, logvar = self.encode(x)
            return self.decode(mu + 0 * logvar), mu, logvar

    with pytest.raises(CheckFailed, match="random"):
        _run_check("vae-model-check", VAE=MeanVAE)


def test_interpolate_reference_passes_its_check():
    _run_check("interpolate-check", interpolate=_solution("interpolate", "interpolate"))


def test_interpolate_without_the_end_fails_its_check():
    def no_end(z_start, z_end, steps):
        t = torch.arange(steps)[:, None] / steps
        return (1 - t) * z_start + t * z_end

    with pytest.raises(CheckFailed):
        _run_check("interpolate-check", interpolate=no_end)


# ------------------------------------------------------------ teaching helpers


def test_tile_places_images_row_by_row_with_gaps():
    tile = _namespace("tile")["tile"]
    images = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 1, 2, 3)
    canvas = tile(images, ncols=2, gap=1, fill=-1.0)
    assert canvas.shape == (3 * 2 + 2, 2 * 3 + 1)
    assert canvas.dtype.name == "float32"
    assert (canvas[0:2, 0:3] == 0).all() and (canvas[0:2, 4:7] == 1).all()
    assert (canvas[3:5, 0:3] == 2).all() and (canvas[6:8, 0:3] == 4).all()
    assert (canvas[6:8, 4:7] == -1).all()  # the missing sixth image is left blank
    assert (canvas[2, :] == -1).all() and (canvas[:, 3] == -1).all()  # the gaps


def test_tile_without_gap_is_a_plain_mosaic():
    tile = _namespace("tile")["tile"]
    images = torch.rand(6, 1, 4, 4)
    canvas = tile(images, ncols=3)
    assert canvas.shape == (8, 12)
    assert torch.equal(torch.from_numpy(canvas[4:8, 8:12]), images[5, 0])


def test_show_rows_draws_one_titled_strip_per_row():
    ns = _namespace("tile", "show_rows")
    fig = ns["show_rows"]([torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)], ["a", "b"], "title")
    try:
        assert [ax.get_ylabel() for ax in fig.axes] == ["a", "b"]
        assert fig.axes[0].images[0].get_array().shape == (28, 4 * 30 - 2)
        assert fig.get_suptitle() == "title"
    finally:
        matplotlib.pyplot.close(fig)


def test_as_tensors_stacks_items_and_labels():
    as_tensors = _namespace("as_tensors")["as_tensors"]
    items = [(torch.full((1, 28, 28), float(i)), i % 3) for i in range(4)]
    images, labels = as_tensors(items)
    assert images.shape == (4, 1, 28, 28) and images[2].eq(2).all()
    assert labels.tolist() == [0, 1, 2, 0] and labels.dtype == torch.int64


def test_image_loader_pairs_each_image_with_itself_in_a_seeded_order():
    image_loader = _namespace("image_loader")["image_loader"]
    images = torch.rand(10, 1, 28, 28)
    first = [x for x, _ in image_loader(images, batch_size=4, shuffle=True, seed=3)]
    again = [x for x, _ in image_loader(images, batch_size=4, shuffle=True, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(torch.equal(x, y) for x, y in image_loader(images, batch_size=4))


def test_reconstruction_loss_is_bce_summed_over_pixels_and_averaged_over_images():
    loss = _namespace("reconstruction_loss")["reconstruction_loss"]
    logits, images = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    expected = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / 3
    assert loss(logits, images).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(torch.zeros(2, 1, 28, 28), images[:2]).item() == pytest.approx(
        784 * math.log(2), rel=1e-6
    )


def test_corrupt_inputs_changes_the_inputs_and_keeps_the_targets():
    ns = _namespace("add_noise", "corrupt_inputs")  # the reference add_noise
    clean = torch.full((4, 1, 28, 28), 0.5)
    state = {torchbearer.X: clean, torchbearer.Y_TRUE: clean}
    ns["corrupt_inputs"](0.3).on_sample(state)
    assert not torch.equal(state[torchbearer.X], clean)
    assert torch.equal(state[torchbearer.Y_TRUE], torch.full((4, 1, 28, 28), 0.5))
    assert state[torchbearer.X].min() >= 0 and state[torchbearer.X].max() <= 1


def test_denoising_loss_scores_against_the_clean_images():
    ns = _namespace(
        "add_noise", "reconstruction_loss", "denoising_loss", device=torch.device("cpu")
    )
    images = (torch.rand(6, 1, 28, 28) > 0.5).float()

    class Oracle(nn.Module):
        """Returns confident logits of the clean images, whatever it is given."""

        def forward(self, x):
            return 30 * (2 * images - 1)

    assert ns["denoising_loss"](Oracle(), images, std=0.8) < 1e-6
    identity_loss = ns["denoising_loss"](nn.Identity(), images, std=0.0)
    assert identity_loss == pytest.approx(
        F.binary_cross_entropy_with_logits(images, images, reduction="sum").item() / 6, rel=1e-5
    )


def test_negative_elbo_and_metrics_match_the_closed_form():
    ns = _namespace(
        "reconstruction_loss", "kl_to_prior", "negative_elbo", "bce_metric", "kl_metric"
    )
    g = torch.Generator().manual_seed(0)
    logits, images = torch.randn(5, 1, 28, 28, generator=g), torch.rand(5, 1, 28, 28, generator=g)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    bce = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / 5
    state = {torchbearer.Y_PRED: (logits, mu, logvar), torchbearer.Y_TRUE: images}
    assert ns["kl_to_prior"](mu, logvar).item() == pytest.approx(kl.item(), rel=1e-5)
    assert ns["negative_elbo"](state).item() == pytest.approx((bce + kl).item(), rel=1e-5)
    for metric, value in (("bce_metric", bce), ("kl_metric", kl)):
        tree = ns[metric]
        tree.reset(state)
        tree.process(state)
        final = tree.process_final(state)
        assert next(iter(final.values())) == pytest.approx(value.item(), rel=1e-5)


def test_latent_model_loss_uses_the_mean_code_for_the_autoencoder():
    vae_cls = _solution("vae-model", "VAE")
    ns = _namespace("reconstruction_loss", "latent_model_loss", VAE=vae_cls)
    ns["reparameterise"] = _reference("q2-reparameterise", "reparameterise")
    ns["vae_loss"] = _reference("q1-vae-loss", "vae_loss")
    torch.manual_seed(0)
    model = vae_cls(latent_dim=2, hidden=16)
    images = torch.rand(4, 1, 28, 28)
    mu, logvar = model.encode(images)
    ae = ns["latent_model_loss"](model, images, variational=False)
    assert ae.item() == pytest.approx(
        ns["reconstruction_loss"](model.decode(mu), images).item(), rel=1e-6
    )
    generator = torch.Generator().manual_seed(1)
    vae = ns["latent_model_loss"](model, images, variational=True, generator=generator)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(
        mu.shape, generator=torch.Generator().manual_seed(1)
    )
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    expected = ns["reconstruction_loss"](model.decode(z), images) + kl
    assert vae.item() == pytest.approx(expected.item(), rel=1e-5)


def test_encode_means_matches_one_pass_in_batches():
    vae_cls = _solution("vae-model", "VAE")
    ns = _namespace("encode_means", VAE=vae_cls, device=torch.device("cpu"))
    torch.manual_seed(0)
    model = vae_cls(latent_dim=2, hidden=8)
    images = torch.rand(2300, 1, 28, 28)
    codes = ns["encode_means"](model, images)
    with torch.no_grad():
        expected = model.encode(images)[0]
    assert codes.shape == (2300, 2)
    assert torch.allclose(codes, expected, atol=1e-6)


def test_the_problem_sheet_is_worth_20_points():
    graded = [
        c.metadata["nbgrader"] for c in LAB.cells.values() if c.metadata["nbgrader"].get("grade")
    ]
    assert sum(meta["points"] for meta in graded) == 20


@pytest.mark.parametrize("answer", [iw_elbo, iw_no_log_k, iw_naive_exp, iw_batch_mean, iw_no_prior])
def test_question_7_visible_checks_reject_the_obvious_mistakes(answer):
    with pytest.raises(CheckFailed):
        LAB.run_visible("q7-importance-tests", _answer_namespace("q7-importance-tests", answer))
