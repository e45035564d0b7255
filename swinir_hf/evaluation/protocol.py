"""The benchmark protocol's choices as plain values, without numpy or torch, for the data it reads (`testsets`) and
the command line that offers them before anything loads (`eval_arguments`)."""

from __future__ import annotations

from typing import Literal, get_args

# How greyscale images among colour ones are scored (`testsets.load_samples`): RGB → Y, or on their grey channel.
GreyConvention = Literal["native", "rgb"]
GREY_CONVENTIONS: tuple[str, ...] = get_args(GreyConvention)
