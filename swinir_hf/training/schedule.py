"""The learning-rate schedule: MultiStepLR's milestones, after a linear warmup over the first `train.warmup_steps`
optimizer steps (BasicSR's `warmup_iter`)."""

from __future__ import annotations

from typing import Any

import torch


def warmup_factor(step: int, warmup_steps: int) -> float:
    """The share of the scheduled learning rate that optimizer step `step` (from 0) takes: (step + 1) / N for the
    first N steps, so that the first step is not taken at the full rate, then 1."""
    return (step + 1) / warmup_steps if step < warmup_steps else 1.0


def warmup_unfinished(warmup_steps: int, max_steps: int) -> str | None:
    """The warning for a warmup longer than the run, which never reaches its learning rate; None where it ends."""
    if warmup_steps <= max_steps:
        return None
    return (
        f"train.warmup_steps {warmup_steps} is more than train.max_steps {max_steps}: the last step is taken at "
        f"{max_steps}/{warmup_steps} of the scheduled learning rate, which the run never reaches; set "
        f"train.warmup_steps {max_steps} or less, or raise train.max_steps"
    )


def scheduled_rate(scheduler: WarmupMultiStepLR, base_lr: float, step: int) -> float:
    """The rate `scheduler`'s milestones, gamma and warmup give `base_lr` at optimizer step `step` (from 0): the
    discriminator's, which follows the generator's schedule from the step alone (nothing to checkpoint)."""
    passed = sum(count for m, count in scheduler.milestones.items() if m <= step)
    return base_lr * scheduler.gamma**passed * warmup_factor(step, scheduler.warmup_steps)


class WarmupMultiStepLR(torch.optim.lr_scheduler.MultiStepLR):
    """MultiStepLR (milestones counted from step 0) whose rates are scaled by `warmup_factor` for the first
    `warmup_steps` steps. With `warmup_steps` 0 it is MultiStepLR, rate for rate."""

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: list[int], gamma: float, warmup_steps: int):
        self.warmup_steps = warmup_steps  # read by the first get_lr, in MultiStepLR's constructor
        super().__init__(optimizer, milestones, gamma=gamma)

    def get_lr(self) -> list[Any]:
        # In the warmup and at the step after it, from the closed form (the warmed-down rate cannot be chained on);
        # from then on MultiStepLR's chained rates, which are a plain run's bit for bit.
        if self.warmup_steps and self.last_epoch <= self.warmup_steps:
            factor = warmup_factor(self.last_epoch, self.warmup_steps)
            return [lr * factor for lr in self._get_closed_form_lr()]
        return super().get_lr()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # A checkpoint saved before the warmup existed had none: `state.set_schedule` sees the config's as a change.
        self.warmup_steps = 0
        super().load_state_dict(state_dict)
