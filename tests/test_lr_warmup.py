"""`train.warmup_steps`: a linear learning-rate warmup before the milestones (BasicSR's `warmup_iter`)."""

import copy

import pytest
import torch

from swinir_hf.training.config import TrainingConfig
from swinir_hf.training.schedule import WarmupMultiStepLR, scheduled_rate
from swinir_hf.training.state import set_schedule

BASE = 2**-10  # a power of 2: every rate below is exact


def schedule(cfg: TrainingConfig) -> WarmupMultiStepLR:
    """The schedule a run of `cfg` trains with (as `loop.prepare` builds it), over one parameter."""
    t = cfg.train
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=t.learning_rate)
    return WarmupMultiStepLR(optimizer, cfg.milestones(), t.lr_gamma, t.warmup_steps)


def config(**train) -> TrainingConfig:
    base = {"learning_rate": BASE, "max_steps": 10, "lr_milestones": [6, 8], "lr_gamma": 0.5}
    return TrainingConfig.from_dict({"train": base | train, "data": {"train": ["x"]}})


def rates(scheduler: WarmupMultiStepLR, steps: int) -> list[float]:
    """The rate of each of the next `steps` optimizer steps, as the optimizer takes them."""
    taken = []
    for _ in range(steps):
        taken.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return taken


def test_the_rate_rises_by_lr_over_n_each_step_then_follows_the_milestones():
    lrs = rates(schedule(config(warmup_steps=4)), 10)
    assert lrs == [BASE / 4, BASE / 2, BASE * 3 / 4, BASE, BASE, BASE, BASE / 2, BASE / 2, BASE / 4, BASE / 4]
    # A milestone inside the warmup lowers the rate it rises to, counted from step 0 as without a warmup.
    early = rates(schedule(config(warmup_steps=4, lr_milestones=[2])), 6)
    assert early == [BASE / 4, BASE / 2, BASE * 3 / 8, BASE / 2, BASE / 2, BASE / 2]


def test_no_warmup_is_the_plain_multistep_schedule_rate_for_rate():
    assert TrainingConfig().train.warmup_steps == 0
    cfg = config(learning_rate=7e-4, lr_gamma=0.1, lr_milestones=[2, 3, 3, 7])
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=7e-4)
    plain = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.milestones(), gamma=0.1)
    assert rates(schedule(cfg), 10) == rates(plain, 10)  # bit for bit


def test_a_resume_mid_warmup_goes_on_with_it():
    """A checkpoint's schedule (its state, as accelerate saves and loads it) resumed at step 2 of a 5-step warmup
    gives the uninterrupted run's rates; one saved before the warmup existed takes the config's from that step."""
    cfg = config(warmup_steps=5, lr_milestones=[7])
    whole = rates(schedule(cfg), 10)
    first = schedule(cfg)
    rates(first, 2)
    saved = copy.deepcopy((first.optimizer.state_dict(), first.state_dict()))
    resumed = schedule(cfg)
    resumed.optimizer.load_state_dict(saved[0])
    resumed.load_state_dict(saved[1])
    assert not set_schedule(resumed, cfg.milestones(), cfg.train, step=2)
    assert rates(resumed, 8) == whole[2:]

    earlier = schedule(config(lr_milestones=[7]))
    rates(earlier, 2)
    state = {k: v for k, v in earlier.state_dict().items() if k != "warmup_steps"}  # an earlier version's
    resumed = schedule(cfg)
    resumed.load_state_dict(copy.deepcopy(state))
    assert set_schedule(resumed, cfg.milestones(), cfg.train, step=2)
    assert rates(resumed, 8) == whole[2:]


def test_the_discriminator_warms_up_with_the_generator():
    scheduler = schedule(config(warmup_steps=4, lr_milestones=[2]))
    assert [scheduled_rate(scheduler, BASE, step) for step in range(6)] == rates(scheduler, 6)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "train.warmup_steps must be >= 0 (0: no warmup), got -1"),
        (1.5, "run.yaml: train.warmup_steps: expected int, got 1.5"),
        ("ten", "run.yaml: train.warmup_steps: expected int, got ten"),
    ],
)
def test_a_bad_warmup_is_refused_naming_the_field(value, message):
    raw = {"train": {"warmup_steps": value}, "data": {"train": ["x"]}}
    with pytest.raises(ValueError) as err:
        TrainingConfig.from_dict(raw, origin="run.yaml")
    assert str(err.value) == message


def test_the_card_says_the_warmup(tiny_config):
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
    from swinir_hf.training.card import _training_recipe
    from swinir_hf.training.state import Progress

    model = SwinIRForImageRestoration(tiny_config())
    lines = {w: _training_recipe(config(warmup_steps=w), model, Progress(), None)[2] for w in (0, 20)}
    assert "Adam lr 0.0009765625 × 0.5 at steps [6, 8], l1 loss" in lines[0]
    assert "Adam lr 0.0009765625 × 0.5 at steps [6, 8] after a 20-step linear warmup, l1 loss" in lines[20]


def test_a_warmup_longer_than_the_run_is_said_once_before_the_first_step(monkeypatch, caplog):
    """A warmup past `train.max_steps` was accepted silently: the run ended below its learning rate."""
    import types

    from swinir_hf.training import loop

    class Built(Exception):
        """Stands in for the model being built: the run's first slow work, after the config's warnings."""

    monkeypatch.setattr(loop, "build_model", lambda *args, **kwargs: (_ for _ in ()).throw(Built()))
    accelerator = types.SimpleNamespace(is_main_process=True, num_processes=1)
    said = {}
    for warmup in (10, 20):
        caplog.clear()
        with caplog.at_level("WARNING", logger="swinir_hf.train"), pytest.raises(Built):
            loop._train(config(warmup_steps=warmup), accelerator, None, None, None, None, False)
        said[warmup] = [r.getMessage() for r in caplog.records]
    assert said[10] == []  # the last step at the full rate
    assert said[20] == [
        "train.warmup_steps 20 is more than train.max_steps 10: the last step is taken at 10/20 of the scheduled "
        "learning rate, which the run never reaches; set train.warmup_steps 10 or less, or raise train.max_steps"
    ]
