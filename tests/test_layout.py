"""The package's layers: the model files stand alone (they are the Hub folders' remote code), and the public entry
points users already write keep working."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import swinir_hf
from swinir_hf.checkpoints.remote_code import HANDLER_MODULE, REMOTE_MODULES

MODELS = Path(swinir_hf.__file__).parent / "models"
REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_models_holds_exactly_the_remote_code():
    stems = sorted(p.stem for p in MODELS.glob("*.py") if p.stem != "__init__")
    assert stems == sorted([*REMOTE_MODULES, HANDLER_MODULE])


@pytest.mark.parametrize("module", [*REMOTE_MODULES, HANDLER_MODULE])
def test_model_files_import_nothing_else_of_the_package(module):
    """The model code imports only itself; the Inference Endpoints handler, imported by its path, not even that."""
    tree = ast.parse((MODELS / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            where = f"{module}.py: from {'.' * node.level}{node.module}"
            assert module != HANDLER_MODULE and node.level == 1 and node.module in REMOTE_MODULES, where
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        assert not any(n.split(".")[0] == "swinir_hf" for n in names), f"{module}.py imports swinir_hf"


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved against its package)."""
    package = path.relative_to(MODELS.parent.parent).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


def test_only_the_demo_imports_gradio():
    """gradio is the `demo` extra: the rest of the package neither imports it nor the demo, except the command
    line, which hands `swinir-hf demo` to the demo's own (once gradio is known to be installed)."""
    package = MODELS.parent
    for path in package.rglob("*.py"):
        if "demo" in path.relative_to(package).parts:
            continue
        imported = _imported_modules(path)
        allowed = {"swinir_hf.demo.server", "swinir_hf.demo.server.main"} if path == package / "cli.py" else set()
        demo = {n for n in imported if n.split(".")[0] == "gradio" or n.startswith("swinir_hf.demo")}
        assert demo <= allowed, path


def test_only_command_lines_import_the_argument_modules():
    """A `*_arguments` module is one command line's options: only command lines (`cli.py`, `*_cli.py`) import it.
    What it offers that others use too (the grey conventions `testsets` reads by) lives below it, without torch."""
    package = MODELS.parent
    arguments = {".".join(p.relative_to(package.parent).with_suffix("").parts) for p in package.rglob("*_arguments.py")}
    assert arguments  # else this checks nothing
    for path in package.rglob("*.py"):
        if path.name == "cli.py" or path.stem.endswith("_cli"):
            continue
        assert not _imported_modules(path) & arguments, path


def test_the_layers_below_training_do_not_import_it():
    """Training uses checkpoints, inference, evaluation and degradations (cards, loading, validation, patches),
    never the reverse: a change to the trainer cannot break loading or restoring."""
    package = MODELS.parent
    for layer in ("checkpoints", "inference", "evaluation", "degradations", "models"):
        for path in (package / layer).rglob("*.py"):
            training = {n for n in _imported_modules(path) if n.startswith("swinir_hf.training")}
            assert not training, (path, training)


def test_storage_imports_no_layer():
    """Safe writes and output folders serve every layer (the engine, training, evaluation, the Hub export, the demo):
    in `inference/`, they made checkpoints and the engine import each other."""
    package = MODELS.parent
    layers = ("models", "inference", "evaluation", "training", "checkpoints", "demo")
    for path in (package / "storage").rglob("*.py"):
        imported = {n for n in _imported_modules(path) for layer in layers if n.startswith(f"swinir_hf.{layer}")}
        assert imported == set(), path


def test_the_degradations_import_no_other_layer():
    """Training and the benchmark both make their inputs with `degradations/`: it lived in `evaluation/`, so the
    trainer imported the evaluation layer for its patches."""
    package = MODELS.parent
    for path in (package / "degradations").rglob("*.py"):
        imported = {n for n in _imported_modules(path) if n.startswith("swinir_hf.")}
        assert all(n.startswith("swinir_hf.degradations") for n in imported), (path, imported)


def test_the_model_files_names_moved_out_still_import():
    """What lived in `modeling_swinir` before loading and running had modules of their own (the errors, `running`,
    `inference_precision`, ...) imports from there still, with a warning naming its place; other names do not."""
    from swinir_hf.models import loading_swinir, modeling_swinir, runtime_swinir

    with pytest.warns(FutureWarning, match=r"^IncompatibleWeightsError is now swinir_hf\.models\.loading_swinir\."):
        from swinir_hf.models.modeling_swinir import IncompatibleWeightsError
    with pytest.warns(FutureWarning, match=r"^running is now swinir_hf\.models\.runtime_swinir\.running$"):
        assert modeling_swinir.running is runtime_swinir.running
    assert IncompatibleWeightsError is loading_swinir.IncompatibleWeightsError
    with pytest.raises(AttributeError, match="has no attribute 'lod_model'"):
        modeling_swinir.lod_model  # noqa: B018


def test_the_code_files_names_0_1_0_defined_in_the_model_file_still_import_from_it():
    """0.1.0 defined `MODEL_AUTO_MAP` and `REMOTE_CODE_FIELDS` in `modeling_swinir` (later it imported them from
    `loading_swinir`); since `code_files_swinir` holds them, the model file's old path gives them with a warning."""
    from swinir_hf.models import code_files_swinir

    with pytest.warns(FutureWarning, match=r"^MODEL_AUTO_MAP is now swinir_hf\.models\.code_files_swinir\.MODEL_AUTO"):
        from swinir_hf.models.modeling_swinir import MODEL_AUTO_MAP
    assert MODEL_AUTO_MAP is code_files_swinir.MODEL_AUTO_MAP
    with pytest.warns(FutureWarning, match=r"^REMOTE_CODE_FIELDS is now swinir_hf\.models\.code_files_swinir\."):
        from swinir_hf.models.modeling_swinir import REMOTE_CODE_FIELDS
    assert REMOTE_CODE_FIELDS == ("auto_map", "custom_pipelines")


def test_names_moved_to_the_code_files_frames_and_alpha_modules_still_import_from_their_old_place():
    """A saved folder's code files left `loading_swinir` (and the model's methods) for `code_files_swinir`, frame
    counting and alpha handling left `image_processing_swinir`: their old paths give the same objects, with a
    warning naming the new place."""
    from swinir_hf.models import alpha_swinir, code_files_swinir, frames_swinir, image_processing_swinir

    with pytest.warns(FutureWarning, match=r"^code_header is now swinir_hf\.models\.code_files_swinir\.code_header$"):
        from swinir_hf.models.loading_swinir import code_header
    assert code_header is code_files_swinir.code_header
    with pytest.warns(FutureWarning, match=r"^frame_count is now swinir_hf\.models\.frames_swinir\.frame_count$"):
        assert image_processing_swinir.frame_count is frames_swinir.frame_count
    with pytest.warns(FutureWarning, match=r"^with_alpha is now swinir_hf\.models\.alpha_swinir\.with_alpha$"):
        assert image_processing_swinir.with_alpha is alpha_swinir.with_alpha
    with pytest.warns(FutureWarning, match=r"^fill_hidden_colour is now swinir_hf\.models\.alpha_swinir\."):
        assert image_processing_swinir.fill_hidden_colour is alpha_swinir.fill_hidden_colour
    with pytest.raises(AttributeError, match="has no attribute 'frame_counts'"):
        image_processing_swinir.frame_counts  # noqa: B018


# The names `modeling_swinir` gives from the modules that hold them now (`_MOVED`), as before these splits.
MOVED_FROM_THE_MODEL_FILE = (
    "IncompatibleWeightsError WEIGHTS_LAYOUTS check_finite_weights check_loading_info safetensors_files shard_problem "
    "ENV_CPU_ATTENTION FUSED_SDPA_HEAD_MULTIPLE ImageTooLargeError SURELY_NEEDED autocast_on available_host_memory "
    "byte_size check_forward_memory chunks_on cuda_free_memory faster_cpu_attention inference_precision resting_dtype "
    "running MODEL_AUTO_MAP REMOTE_CODE_FIELDS"
).split()


def test_names_moved_to_the_weight_files_hub_files_memory_and_presets_modules_still_import_from_their_old_place():
    """The weights files and a Hub model's files left `loading_swinir`, a pass's memory left `runtime_swinir`, the
    presets and heads' scales left `configuration_swinir` (each over 400 lines): the old paths give the same objects,
    those the old module no longer uses with a warning naming the new place."""
    from swinir_hf.models import (
        configuration_swinir,
        hub_files_swinir,
        loading_swinir,
        memory_swinir,
        modeling_swinir,
        presets_swinir,
        runtime_swinir,
        weight_files_swinir,
    )

    with pytest.warns(
        FutureWarning, match=r"^hub_reachable is now swinir_hf\.models\.hub_files_swinir\.hub_reachable$"
    ):
        assert loading_swinir.hub_reachable is hub_files_swinir.hub_reachable
    with pytest.warns(FutureWarning, match=r"^safetensors_files is now swinir_hf\.models\.weight_files_swinir\."):
        assert loading_swinir.safetensors_files is weight_files_swinir.safetensors_files
    assert loading_swinir.WEIGHTS_LAYOUTS is weight_files_swinir.WEIGHTS_LAYOUTS
    with pytest.warns(FutureWarning, match=r"^ImageTooLargeError is now swinir_hf\.models\.memory_swinir\."):
        from swinir_hf.models.runtime_swinir import ImageTooLargeError
    assert ImageTooLargeError is memory_swinir.ImageTooLargeError
    with pytest.warns(FutureWarning, match=r"^byte_size is now swinir_hf\.models\.memory_swinir\.byte_size$"):
        assert runtime_swinir.byte_size is memory_swinir.byte_size
    assert configuration_swinir.PRESETS is presets_swinir.PRESETS
    assert configuration_swinir.UPSAMPLER_SCALES is presets_swinir.UPSAMPLER_SCALES
    with pytest.raises(AttributeError, match="has no attribute 'byte_sizes'"):
        runtime_swinir.byte_sizes  # noqa: B018
    # The model file's moved names (all it gave before) point at the module that holds each now, not at one that
    # passes it on.
    moved = modeling_swinir._MOVED.items()
    assert sorted(modeling_swinir._MOVED) == sorted(MOVED_FROM_THE_MODEL_FILE)
    assert [n for n, m in moved if n not in vars(importlib.import_module(f"swinir_hf.models.{m}"))] == []


def test_the_model_files_are_at_most_the_size_of_one_idea_but_the_model():
    """The shipped model files are exempt from the size test below (a folder's config.json names them), yet each
    holds one idea too: `loading_swinir` (575 lines), `runtime_swinir` (538) and `configuration_swinir` (451) were
    split. `modeling_swinir` reads top-down like the paper, and stays whole."""
    sizes = {m: len((MODELS / f"{m}.py").read_text().splitlines()) for m in REMOTE_MODULES}
    allowed = {"modeling_swinir": 1000}
    assert {m: n for m, n in sizes.items() if n > allowed.get(m, MODULE_LINES)} == {}


def test_the_window_geometry_still_imports_from_the_model_file():
    """The window geometry left `modeling_swinir` for `windows_swinir`; the model file still uses (and so gives) each
    of its public names, the same objects, without a warning."""
    from swinir_hf.models import modeling_swinir, windows_swinir

    names = ["ShiftMaskCache", "on_device", "relative_position_index", "shift_border_windows", "shift_window_mask"]
    names += ["window_partition", "window_reverse"]
    assert [n for n in names if getattr(modeling_swinir, n) is not getattr(windows_swinir, n)] == []


# The public names `image_processing_swinir` defined or imported before Pillow reading and pixel conversion left it.
IMAGE_PROCESSING_NAMES_BEFORE_THE_SPLIT = (
    "ALPHA_MODES AlphaMode DATA_FORMATS DataFormat FLOAT_RANGE FLOAT_SLACK HEIF_BRANDS ImageLayout LUMA "
    "SwinIRImageProcessor SwinIRImageProcessorKwargs check_colour_depth check_data_format check_float_range "
    "check_image_channels check_level_range clamping_note colour_bit_depth compose_image dtype_name "
    "fill_hidden_colour flat_images float_to_image from_reconstruction image_to_float infer_data_format "
    "integer_pixels is_heif keyed_grey16 load_pixels match_channels normalize_pil pillow_warnings "
    "refuse_unsupported sgi_bit_depth split_image to_pixel_values warn_if_animated warn_if_clamped"
).split()


def test_the_image_processors_names_moved_to_the_pillow_and_pixels_modules_still_import_from_it():
    """Pillow reading left `image_processing_swinir` for `pil_images_swinir`, pixel conversion and the data path for
    `pixels_swinir`: `from swinir_hf.models.image_processing_swinir import split_image` (docs/restoration.md named
    it there) gives the same object, with a warning naming its place; so does every name public there before."""
    from swinir_hf.models import image_processing_swinir, pil_images_swinir, pixels_swinir

    with pytest.warns(FutureWarning, match=r"^split_image is now swinir_hf\.models\.pixels_swinir\.split_image$"):
        from swinir_hf.models.image_processing_swinir import split_image
    assert split_image is pixels_swinir.split_image
    with pytest.warns(FutureWarning, match=r"^pillow_warnings is now swinir_hf\.models\.pil_images_swinir\."):
        assert image_processing_swinir.pillow_warnings is pil_images_swinir.pillow_warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        missing = [n for n in IMAGE_PROCESSING_NAMES_BEFORE_THE_SPLIT if not hasattr(image_processing_swinir, n)]
    assert missing == []


def test_the_readmes_map_of_the_package_names_every_module():
    """README's "Where things live" is how a newcomer finds a module: each layer's row names each of its modules (the
    package docstrings, which listed them too, had fallen behind by a dozen)."""
    readme = (REPO / "README.md").read_text()
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `swinir_hf/([a-z_]*)/?` \|.*$", readme, flags=re.M)}
    package = MODELS.parent
    layers = {p.parent.name for p in package.glob("*/__init__.py")} | {""}
    assert set(rows) == layers
    for layer, row in rows.items():
        modules = sorted(p.stem for p in (package / layer).glob("*.py") if p.stem != "__init__")
        unnamed = [m for m in modules if not re.search(rf"`{m}(\.py)?[` ]|{m}\.py", row)]
        assert unnamed == [], (layer or "swinir_hf/", unnamed)


def test_the_hub_pages_table_of_an_exports_files_names_every_code_file_it_ships():
    """docs/hub.md's table of the files `swinir-hf hub` writes: its code row named 8 modules once the tiles'
    (`tiling_swinir`, `image_files_swinir`) were shipped too, 10."""
    page = (REPO / "docs" / "hub.md").read_text()
    row = next(line for line in page.splitlines() if re.match(r"\| `\w+_swinir\.py`, ", line))
    assert sorted(re.findall(r"`(\w+)\.py`", row.split("|")[1])) == sorted(REMOTE_MODULES)


def test_the_engine_does_not_import_the_loops_that_run_it():
    """`restoration` (`restore`, `SwinIRRestorer`) is what the command line's loop (`job_runner`) and `collection`
    run; it imported `job_runner` for the `outscale` resize, the dependency the wrong way round."""
    engine = MODELS.parent / "inference" / "restoration.py"
    loops = ("job_runner", "collection", "collection_cli", "engine_cli")
    imported = {n for n in _imported_modules(engine) for loop in loops if n.startswith(f"swinir_hf.inference.{loop}")}
    assert imported == set()


def test_the_command_line_starts_without_what_only_some_commands_need():
    """Every `swinir-hf` command imports the command line with all its options; the metrics' scipy.stats and
    scikit-image (0.6 s here), `datasets` and gradio load only when a command uses them."""
    code = "import sys, swinir_hf.cli; print(sorted(m for m in sys.argv[1:] if m in sys.modules))"
    heavy = ["scipy.stats", "skimage", "datasets", "gradio", "swinir_hf.evaluation.benchmark"]
    done = subprocess.run([sys.executable, "-c", code, *heavy], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


def test_public_imports():
    from swinir_hf import (  # noqa: F401
        PRESETS,
        TASKS,
        EngineOptions,
        SwinIRConfig,
        SwinIRForImageRestoration,
        SwinIRRestorer,
        restore,
    )
    from swinir_hf.evaluation import evaluate  # noqa: F401
    from swinir_hf.loading import DEFAULTS_DIR, load_default, load_model  # noqa: F401

    assert callable(restore) and DEFAULTS_DIR.is_dir()


def test_the_degradations_published_paths_still_import(monkeypatch):
    """`swinir_hf.metrics` and `swinir_hf.degradations` as the evaluation issue named them, and the evaluation
    layer's names of the degradations, which lived there before (with a warning naming their new place)."""
    import swinir_hf.evaluation

    for name in ("real_world", "degradations", "Degradation"):  # looked up by an earlier test: warned there
        monkeypatch.delitem(vars(swinir_hf.evaluation), name, raising=False)
    from swinir_hf.degradations import imresize, real_world_degradation, synthetic
    from swinir_hf.degradations import real_world as moved_here
    from swinir_hf.evaluation import metrics
    from swinir_hf.metrics import psnr, psnrb, ssim

    assert (psnr, ssim, psnrb) == (metrics.psnr, metrics.ssim, metrics.psnrb)
    assert imresize is synthetic.imresize and real_world_degradation is moved_here.real_world_degradation
    with pytest.warns(FutureWarning, match=r"swinir_hf.evaluation.real_world is now swinir_hf.degradations.real_world"):
        from swinir_hf.evaluation import real_world
    with pytest.warns(FutureWarning, match=r"evaluation.degradations is now swinir_hf.degradations.synthetic") as said:
        from swinir_hf.evaluation import degradations
    assert real_world is moved_here and degradations is synthetic and len(said) == 1  # once, not per look-up
    with pytest.warns(FutureWarning, match=r"evaluation.Degradation is now swinir_hf.degradations.setting.Degradation"):
        from swinir_hf.evaluation import Degradation
    assert Degradation is swinir_hf.degradations.Degradation


def _documented_imports(doc: Path) -> list[str]:
    """The `import swinir_hf...` / `from swinir_hf... import ...` lines of a page's Python code blocks."""
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    pattern = r"^(?:from swinir_hf\S* import [^#\n]+|import swinir_hf\S*)"
    return [line.strip() for block in blocks for line in re.findall(pattern, block, flags=re.M)]


def test_documented_imports_are_found():
    """The pattern finds the imports of every page whose Python blocks use the package (else the next test
    would check nothing)."""
    for doc in DOCS:
        blocks = "".join(re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S))
        assert bool(_documented_imports(doc)) == ("swinir_hf" in blocks), doc.name


@pytest.mark.parametrize("doc", [d for d in DOCS if _documented_imports(d)], ids=lambda p: p.name)
def test_documented_imports_work(doc):
    """The imports the docs show are the ones users copy: each must work as written."""
    for line in _documented_imports(doc):
        exec(line, {})  # an ImportError names the line's module and what it lacks


@pytest.mark.slow
@pytest.mark.parametrize("module", ["swinir_hf", "swinir_hf.train", "swinir_hf.restore", "swinir_hf.evaluate"])
def test_module_entry_points_run(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


# The size the style guide gives a module, which holds one idea. The Hub folders' remote code is
# the exception: each of those files is what a folder's config.json names, whole (see test_models_holds_...).
MODULE_LINES = 400
SOURCES = [p for d in ("swinir_hf", "hub", "benchmarks") for p in sorted((REPO / d).rglob("*.py"))] + [REPO / "app.py"]


def test_no_module_is_over_the_size_of_one_idea():
    remote = {MODELS / f"{m}.py" for m in REMOTE_MODULES}
    sizes = {p.relative_to(REPO).as_posix(): len(p.read_text().splitlines()) for p in SOURCES if p not in remote}
    assert {p: n for p, n in sizes.items() if n > MODULE_LINES} == {}


def test_no_function_is_over_sixty_lines_of_code():
    """A function does one step: at most 60 lines from its first decorator to its end, its docstring aside (the
    Args of a function with many options document it; they do not make it do more)."""
    long = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                doc = node.body[0]
                documented = isinstance(doc, ast.Expr) and isinstance(getattr(doc, "value", None), ast.Constant)
                lines = node.end_lineno - first + 1 - (doc.end_lineno - doc.lineno + 1 if documented else 0)
                if lines > 60:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_the_tests_wait_for_other_processes_with_a_timeout():
    """A child that hangs (a lock, a prompt, a server that never answers) must fail its test, not stall the suite
    until CI kills it unnamed: every `subprocess.run` and argument-less `.wait()` in the tests names a timeout."""
    waits = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or {k.arg for k in node.keywords} & {"timeout", None}:
                continue
            called = ast.unparse(node.func)
            if called == "subprocess.run" or (called.endswith(".wait") and not node.args):
                waits.append(f"{path.name}:{node.lineno} {called}")
    assert waits == []
