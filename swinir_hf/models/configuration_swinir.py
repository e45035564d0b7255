"""SwinIR model configuration."""

import math
import numbers
from dataclasses import fields
from typing import Any, get_args

import transformers
from packaging.version import Version

# The oldest transformers this model's code runs on (a Hub folder's remote code included): on an older one, one line
# saying so rather than an error from inside. 5.0-5.3's `PreTrainedConfig` is no dataclass (`@strict` refuses the
# config) and they lack `transformers.image_processing_backends` (the image processor's base); 4.x has no
# `PreTrainedConfig`. From 5.4 a folder's model, Auto classes and pipeline give the package's outputs (docs/hub.md,
# "Which transformers": hub/transformers_versions.py, run on 4.57.6, 5.0.0-5.4.0, 5.5.4, 5.10.4, 5.17.0); below 5.18
# transformers' AutoImageProcessor itself asks for torchvision. The package itself needs 5.18 (pyproject.toml).
# The modules a folder's config and image processor load first run `require_transformers` before any import of
# transformers' that an older one lacks.
MIN_TRANSFORMERS = "5.4"
_UPGRADE = (
    f"SwinIR's model code needs transformers >= {MIN_TRANSFORMERS}: pip install -U 'transformers>={MIN_TRANSFORMERS}'"
)


def require_transformers() -> None:
    """ImportError, in one line, on a transformers older than `MIN_TRANSFORMERS`. A function: transformers 4.57
    keeps a remote module that failed in `sys.modules`, so a second load in that process (the image processor after
    the model) would import this module's names without running its checks again."""
    if Version(transformers.__version__) < Version(MIN_TRANSFORMERS):
        raise ImportError(f"{_UPGRADE} (this is {transformers.__version__})") from None


require_transformers()
try:
    from huggingface_hub.dataclasses import strict
    from huggingface_hub.errors import StrictDataclassError
    from transformers import PreTrainedConfig
except ImportError as err:  # a huggingface_hub older than transformers asks for
    raise ImportError(f"{_UPGRADE} (this is {transformers.__version__}): {err}") from err

# After the check: a Hub folder's copy run on an old transformers says what it needs, whatever else fails.
from .constants_swinir import LOSSES, TASK_TABLE, TASKS, Task  # noqa: E402, F401  (re-exported: one table)
from .hub_push_swinir import SaidPush  # noqa: E402
from .presets_swinir import PRESETS, UPSAMPLER_SCALES, UPSAMPLERS, builds_scale, scale_error  # noqa: E402

RESI_CONNECTIONS = ("1conv", "3conv")
# The dtypes a config may name for its weights (`dtype`, transformers 4's `torch_dtype`), and torch's aliases of them.
WEIGHT_DTYPES = ("float32", "float16", "bfloat16", "float64", "float", "half", "double")
# What `SwinIRConfig(...)` raises for a bad field: ValueError (inconsistent values) or huggingface_hub's strict
# dataclass error (a wrongly typed value).
CONFIG_ERRORS = (ValueError, TypeError, StrictDataclassError)
# Far past any SwinIR (the authors' largest release has 54 Swin layers): a model beyond these is not built, for its
# config.json is damaged or hostile, and building it would take minutes and gigabytes before anything said so.
MAX_SWIN_LAYERS = 1_000
MAX_PARAMETERS = 2_000_000_000
# Window attention takes window_size**4 values per head and window (the authors': 8): a window of 256 made a model
# of 1 MB of weights ask for 17 GB on its first 8×8 input.
MAX_WINDOW_SIZE = 64


# DIV2K mean used by the authors for 3-channel models; other channel counts use zero mean.
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def check_attentions(output_attentions: bool, attn_implementation: str | None) -> None:
    """Raise the ValueError of `output_attentions` in a config whose attention is not the eager one."""
    if output_attentions and attn_implementation not in ("eager", None):
        raise ValueError(
            f'output_attentions=True needs attn_implementation="eager", not "{attn_implementation}" (which computes no '
            'attention probabilities): pass attn_implementation="eager" (model.set_attn_implementation("eager") for a '
            "built model), or output_attentions=True to the forward calls instead"
        )


ATTENTIONS = ("sdpa", "eager")


def check_attention_kernel(attn_implementation: str | None) -> None:
    """Raise the ValueError of an attention SwinIR cannot run (flash, flex, a Hub kernel, paged): transformers' own
    asks to request support on a Hub page made of the model's path, but the relative-position bias rules them out."""
    if isinstance(attn_implementation, str) and attn_implementation not in ATTENTIONS:
        raise ValueError(
            f'SwinIR cannot use attn_implementation="{attn_implementation}" (its window attention adds a '
            'relative-position bias, which flash, flex and paged attention do not take): pass "sdpa" (the default) '
            'or "eager"'
        )


# The fields the model is built or computes with: every save writes them all, so a saved config.json without one
# lost it (a hand edit, a cut-off write), and the default would load another model (a JPEG model's img_range 255 as
# 1: wrong images, without a word) or be refused for a value the file never named.
BUILT_FIELDS = (
    "num_channels", "upscale", "image_size", "patch_size", "embed_dim", "depths", "num_heads", "window_size",
    "mlp_ratio", "qkv_bias", "qk_scale", "use_absolute_embeddings", "patch_norm", "layer_norm_eps", "img_range",
    "rgb_mean", "upsampler", "resi_connection", "num_feat",
)  # fmt: skip


def _check_saved_fields(config_dict: dict[str, Any], overrides: dict[str, Any]) -> None:
    """ValueError naming the `BUILT_FIELDS` a saved config.json (one that names its `transformers_version`, which
    every save writes) lacks and `from_pretrained`'s keywords do not set; a dict of one's own is filled as before."""
    if "transformers_version" not in config_dict:
        return
    missing = [f for f in BUILT_FIELDS if f not in config_dict and f not in overrides]
    if missing:
        raise ValueError(
            f"config.json has no {', '.join(missing)}, which a saved SwinIR config names: it was cut short or "
            "edited; add the field or re-export the model (swinir-hf convert, or save_pretrained)"
        )


@strict
class SwinIRConfig(SaidPush, PreTrainedConfig):
    r"""Configuration of a [`SwinIRForImageRestoration`] model.

    Field names follow `transformers` (the authors' constructor argument is given in brackets).

    Args:
        num_channels (`int`, defaults to 3): image channels in and out [`in_chans`].
        upscale (`int`, defaults to 1): output size / input size; 1 for denoising and JPEG artifact reduction.
        image_size (`int`, defaults to 64): training patch size in pixels [`img_size`], a multiple of
            `window_size`. A size of one window or less turns window shifting off, as in the authors' code; it is
            also the size of `use_absolute_embeddings` and of the shift masks an authors' checkpoint stores (checked
            against it on conversion). Inference works on any size.
        patch_size (`int`, defaults to 1): patch size of the patch embedding; SwinIR embeds single pixels, so
            anything else is a `ValueError`.
        embed_dim (`int`, defaults to 180): channels of the deep features.
        depths (`list[int]`, defaults to `[6] * 6`): Swin layers in each residual Swin Transformer block (RSTB).
        num_heads (`list[int]`, *optional*): attention heads in each RSTB; `embed_dim` must be divisible by each.
            6 per RSTB when unset.
        window_size (`int`, defaults to 8): attention window side in pixels (7 for JPEG artifact reduction).
        mlp_ratio (`float`, defaults to 2.0): MLP hidden size / `embed_dim`.
        qkv_bias (`bool`, defaults to `True`): learnable bias on the query / key / value projection.
        qk_scale (`float`, *optional*): attention logit scale; `head_dim ** -0.5` when unset.
        hidden_dropout_prob (`float`, defaults to 0.0): dropout after embeddings, projections and MLPs [`drop_rate`].
        attention_probs_dropout_prob (`float`, defaults to 0.0): dropout on attention weights [`attn_drop_rate`].
        drop_path_rate (`float`, defaults to 0.1): stochastic depth rate, rising linearly over all Swin layers.
        use_absolute_embeddings (`bool`, defaults to `False`): add a learned absolute position embedding [`ape`];
            ties the model to inputs that pad to exactly `image_size` × `image_size` (a `ValueError` otherwise).
        patch_norm (`bool`, defaults to `True`): LayerNorm after the patch embedding.
        layer_norm_eps (`float`, defaults to 1e-5): LayerNorm epsilon.
        img_range (`float`, defaults to 1.0): inputs in [0, 1] are multiplied by this inside the network
            (255 for the JPEG models).
        rgb_mean (`list[float]`, *optional*): mean subtracted before the network; DIV2K's RGB mean for 3 channels,
            zeros otherwise, when unset.
        upsampler (`str`, *optional*): reconstruction head: `"pixelshuffle"` (classical SR, x3 or any power of 2),
            `"pixelshuffledirect"` (lightweight SR, any integer scale >= 2), `"nearest+conv"` (real-world SR,
            x2/x4) or `None` (same-size restoration with a global residual); `UPSAMPLER_SCALES` in words.
        resi_connection (`str`, defaults to `"1conv"`): convolution closing each RSTB: `"1conv"` (3×3) or
            `"3conv"` (3×3 → 1×1 → 3×3 bottleneck at `embed_dim // 4`, used by SwinIR-L).
        num_feat (`int`, defaults to 64): channels of the `pixelshuffle` / `nearest+conv` heads.
        task (`str`, *optional*): the task the weights were trained for, one of `TASKS`.
        loss (`str`, *optional*): training loss when `labels` are passed: `"l1"` or `"charbonnier"`; defaults to
            L1 for super-resolution heads and Charbonnier for same-size restoration.
        charbonnier_eps (`float`, defaults to 1e-3): epsilon of the Charbonnier loss.
        initializer_range (`float`, defaults to 0.02): std of the truncated normal init of linear layers.
        inference_chunk_size (`int`, defaults to 8192): in CPU inference (no autograd), the Swin layers run over
            chunks of this many tokens and an upsampling head over row bands of about as many input pixels, which
            bounds the temporaries (8192 tokens × 3 × embed_dim 180 floats: ≈ 18 MB) whatever the image size;
            results are unchanged.
            0 runs each layer over the whole image at once, as training and GPUs do.
    """

    model_type = "swinir"

    num_channels: int = 3
    upscale: int = 1
    image_size: int = 64
    patch_size: int = 1
    embed_dim: int = 180
    depths: list[int] | tuple[int, ...] = (6, 6, 6, 6, 6, 6)
    num_heads: list[int] | tuple[int, ...] | None = None
    window_size: int = 8
    mlp_ratio: float | int = 2.0
    qkv_bias: bool = True
    qk_scale: float | int | None = None
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.1
    use_absolute_embeddings: bool = False
    patch_norm: bool = True
    layer_norm_eps: float | int = 1e-5
    img_range: float | int = 1.0
    rgb_mean: list[float | int] | None = None
    upsampler: str | None = None
    resi_connection: str = "1conv"
    num_feat: int = 64
    task: str | None = None
    loss: str | None = None
    charbonnier_eps: float | int = 1e-3
    initializer_range: float | int = 0.02
    inference_chunk_size: int = 8192

    def __post_init__(self, **kwargs: Any) -> None:
        # Derived defaults, and the spellings of the authors' configs (upsampler "") and of JSON / YAML (int for
        # float, list for tuple) normalised, so that equal configs compare and serialise equal.
        if self.upsampler == "":
            self.upsampler = None
        self.depths = list(self.depths)
        self.num_heads = list(self.num_heads) if self.num_heads is not None else [6] * len(self.depths)
        for field in fields(self):  # every float field is annotated `float | int`: an int is stored as a float
            if float in get_args(field.type) and type(getattr(self, field.name)) is int:
                setattr(self, field.name, float(getattr(self, field.name)))
        if self.rgb_mean is None:
            self.rgb_mean = list(DIV2K_RGB_MEAN) if self.num_channels == 3 else [0.0] * self.num_channels
        self.rgb_mean = [float(m) for m in self.rgb_mean]
        if self.loss is None:
            self.loss = "l1" if self.upsampler is not None else "charbonnier"
        for key, value in (("dtype", self.dtype), ("torch_dtype", kwargs.get("torch_dtype"))):
            # transformers takes the name as torch's attribute: "bogus" was an AttributeError from inside torch
            if isinstance(value, str) and value not in WEIGHT_DTYPES:
                raise ValueError(f"{key} must name a floating-point dtype ({', '.join(WEIGHT_DTYPES)}), got {value!r}")
        super().__post_init__(**kwargs)
        if self.output_attentions and self._attn_implementation is None:
            # What transformers' `output_attentions` setter (so `from_pretrained(..., output_attentions=True)`) does;
            # its constructor skips it, and the model built would take SDPA, which computes no attention probabilities.
            self._attn_implementation = "eager"
        self._check_fields()

    @property
    def output_attentions(self) -> bool:
        """Whether the model returns each Swin layer's attention probabilities (the eager attention's)."""
        return self._output_attentions

    @output_attentions.setter
    def output_attentions(self, value: bool) -> None:
        # transformers' setter (unset, the attention becomes the eager one), with a message saying what to do.
        check_attentions(value, self._attn_implementation)
        if value and self._attn_implementation is None:
            self._attn_implementation = "eager"
        self._output_attentions = value

    def validate_output_attentions(self) -> None:
        """transformers' class validator, with a message saying what to do."""
        check_attentions(self.output_attentions, self._attn_implementation)

    def _check_fields(self) -> None:
        # At construction and after `from_dict` (transformers runs the class validators only when saving), raising
        # the plain ValueError of the first inconsistent field.
        for check in (self.validate_numbers, self.validate_body, self.validate_head, self.validate_training):
            check()

    def validate_numbers(self) -> None:
        """Every real-valued field finite (a NaN `img_range` or `rgb_mean` passes the range checks, and every output
        is NaN: black images); `qk_scale` positive."""
        for field in fields(self):
            values = getattr(self, field.name) if field.name == "rgb_mean" else [getattr(self, field.name)]
            for value in values:
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"{field.name} must be a finite number, got {getattr(self, field.name)}")
        if self.qk_scale is not None and self.qk_scale <= 0:
            raise ValueError(f"qk_scale must be positive (or None: head_dim ** -0.5), got {self.qk_scale}")

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> Any:
        """transformers' `from_dict` (behind `from_pretrained`), which sets the fields passed as keywords after the
        config is built (`from_pretrained(folder, upscale=3)`): checked as the constructor checks them."""
        _check_saved_fields(config_dict, kwargs)
        loaded = super().from_dict(config_dict, **kwargs)
        (loaded[0] if isinstance(loaded, tuple) else loaded)._check_fields()
        return loaded

    def validate_body(self) -> None:
        """The shallow conv and Swin body: channels, depths / heads, window and patch sizes."""
        if self.num_channels < 1:
            raise ValueError(f"num_channels must be >= 1, got {self.num_channels}")
        if len(self.rgb_mean) != self.num_channels:
            raise ValueError(f"rgb_mean has {len(self.rgb_mean)} values but num_channels is {self.num_channels}")
        if not self.depths or len(self.depths) != len(self.num_heads):
            raise ValueError(
                f"depths {self.depths} and num_heads {self.num_heads} must be non-empty and of the same length "
                "(one entry per residual Swin Transformer block)"
            )
        if any(d < 1 for d in self.depths) or any(h < 1 for h in self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} must all be >= 1")
        if self.embed_dim < 1:
            raise ValueError(f"embed_dim must be >= 1, got {self.embed_dim}")
        if self.mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio}")
        if self.layer_norm_eps < 0:
            raise ValueError(f"layer_norm_eps must be >= 0, got {self.layer_norm_eps}")
        for heads in self.num_heads:
            if self.embed_dim % heads:
                raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {heads}")
        if self.patch_size != 1:
            raise ValueError(f"SwinIR embeds single pixels: patch_size must be 1, got {self.patch_size}")
        if self.window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {self.window_size}")
        if self.image_size < self.window_size or self.image_size % self.window_size:
            raise ValueError(
                f"image_size (training patch) {self.image_size} must be a multiple of window_size {self.window_size}"
            )
        if self.resi_connection not in RESI_CONNECTIONS:
            raise ValueError(f"resi_connection must be one of {RESI_CONNECTIONS}, got {self.resi_connection!r}")
        if self.resi_connection == "3conv" and self.embed_dim % 4:
            raise ValueError(f"resi_connection '3conv' needs embed_dim divisible by 4, got {self.embed_dim}")
        if self.img_range <= 0:
            raise ValueError(f"img_range must be positive, got {self.img_range}")
        if self.inference_chunk_size < 0:
            raise ValueError(f"inference_chunk_size must be >= 0, got {self.inference_chunk_size}")

    def validate_head(self) -> None:
        """The reconstruction head and its scale."""
        if self.upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {self.upsampler!r}")
        if not builds_scale(self.upsampler, self.upscale):
            raise ValueError(scale_error("upscale", self.upscale, self.upsampler))
        if self.num_feat < 1:
            raise ValueError(f"num_feat must be >= 1, got {self.num_feat}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")

    def least_parameters(self) -> int:
        """A lower bound on the model's parameter count, from the config alone (no module built): each Swin layer's
        four C × C attention projections, MLP and relative-position bias table, the absolute position embedding, and
        the head's widest convolution."""
        dim = self.embed_dim
        if self.upsampler == "pixelshuffledirect":
            head = 9 * dim * self.num_channels * self.upscale**2
        else:
            head = 9 * self.num_feat**2 if self.upsampler in ("pixelshuffle", "nearest+conv") else 0
        layer = 4 * dim**2 + 2 * dim * int(dim * self.mlp_ratio)
        bias = (2 * self.window_size - 1) ** 2 * sum(d * h for d, h in zip(self.depths, self.num_heads, strict=False))
        embedding = self.image_size**2 * dim if self.use_absolute_embeddings else 0
        return sum(self.depths) * layer + bias + embedding + head

    def check_buildable(self) -> None:
        """Raise ValueError for a config past any SwinIR's (`MAX_WINDOW_SIZE`, `MAX_SWIN_LAYERS`, `MAX_PARAMETERS`),
        before a model of it is built. Not a validator of the config itself: a folder's config is first compared with
        its weights, which says more (`loading_swinir`); but a window this large fits small weights."""
        if self.window_size > MAX_WINDOW_SIZE:
            raise ValueError(
                f"this config's window_size {self.window_size} is past what is built here ({MAX_WINDOW_SIZE}; the "
                f"authors' is 8): its attention would take {self.window_size**4:,} values per window and head, "
                "gigabytes on the first input (a config.json like this is a damaged or hostile one)"
            )
        layers, least = sum(self.depths), self.least_parameters()
        if layers > MAX_SWIN_LAYERS or least > MAX_PARAMETERS:
            raise ValueError(
                f"this config describes a SwinIR of {layers:,} Swin layers and at least {least:,} parameters, past "
                f"what is built here ({MAX_SWIN_LAYERS:,} layers, {MAX_PARAMETERS:,} parameters; the authors' "
                "largest has 54 layers), which would take minutes and gigabytes to build (a config.json this large "
                "is a damaged or hostile one)"
            )

    def validate_training(self) -> None:
        """The loss and the regularisation rates."""
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.charbonnier_eps <= 0:  # sqrt(d² + ε²) at ε = 0 has an infinite gradient where d = 0
            raise ValueError(f"charbonnier_eps must be positive, got {self.charbonnier_eps}")

    @classmethod
    def from_preset(cls, preset: str, scale: int | None = None, **overrides: Any) -> "SwinIRConfig":
        """Configuration of one of the paper's settings.

        Args:
            preset: one of `PRESETS` (`classical_sr`, `lightweight_sr`, `real_sr`, `real_sr_large`, `gray_dn`,
                `color_dn`, `jpeg_car`, `color_jpeg_car`).
            scale: upscale factor: for the super-resolution presets any their head builds (`UPSAMPLER_SCALES`),
                required where the authors released several (`PRESETS[preset]["_scales"]`); unset or 1 for the
                others.
            overrides: any other config field.
        """
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        if "upscale" in overrides:
            raise ValueError(
                f"from_preset sets the scale with scale=, not upscale= (got upscale={overrides['upscale']})"
            )
        # The constructor keeps unknown keys as extra attributes: a misspelt override would leave the preset's value.
        if unknown := sorted(set(overrides) - {f.name for f in fields(cls)}):
            raise ValueError(f"from_preset: {', '.join(unknown)} is not a SwinIRConfig field")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, numbers.Integral)):
            raise ValueError(f"scale must be an integer, got {scale!r}")
        scale = None if scale is None else int(scale)  # a NumPy integer too
        values = dict(PRESETS[preset])
        released = values.pop("_scales")
        upsampler = overrides.get("upsampler", values["upsampler"])
        # An upsampler outside UPSAMPLERS is left to the constructor's check.
        if scale is None and len(released) > 1 and upsampler in UPSAMPLERS:
            raise ValueError(
                f"preset {preset!r} needs scale=: {UPSAMPLER_SCALES[upsampler]} (the authors released "
                f"{', '.join(map(str, released))})"
            )
        scale = released[0] if scale is None else scale
        if upsampler in UPSAMPLERS and not builds_scale(upsampler, scale):
            raise ValueError(scale_error("scale", scale, upsampler, preset))
        values.setdefault("task", preset)
        values.update(upscale=scale, **overrides)
        return cls(**values)
