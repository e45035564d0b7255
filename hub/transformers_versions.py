"""What a user without swinir-hf gets from an exported Hub folder on other transformers versions.

Exports a tiny model (as `swinir-hf hub` does) with this Python (the package's environment), then, in each given
Python (a venv with only `transformers==X`, torch, safetensors, Pillow and numpy: no swinir-hf), loads it with
`trust_remote_code=True` through AutoModel, AutoModelForImageToImage, AutoImageProcessor and
`pipeline("image-restoration")`, and compares the outputs with the package's (1e-5; the pipeline's pixels exactly).
On a transformers older than the model code supports, each step must fail at once with the code's one-line
"needs transformers >= X" message (`configuration_swinir.MIN_TRANSFORMERS`), which the table shows; the exit status
is 1 where a step failed otherwise (transformers < 5.18's own AutoImageProcessor refusal without torchvision aside).

    for v in 4.57.6 5.0.0 5.3.0 5.4.0 5.10.4 5.17.0 5.25.0; do  # one at a time; a CPU torch (this disk has one)
        python3 -m venv /work/venvs/tf-$v
        /work/venvs/tf-$v/bin/pip install "transformers==$v" "torch==2.13.0" safetensors pillow numpy
    done
    python hub/transformers_versions.py /work/venvs/tf-*/bin/python   # with the package's Python

docs/hub.md, "Which transformers", has what it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# Run in each other Python, from a folder without swinir_hf: one line of JSON, each step's result or its error's
# first line.
CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch, transformers
    from PIL import Image

    folder, inputs, image = json.loads(sys.argv[1])
    report = {"transformers": transformers.__version__}

    def step(name, run):
        try:
            report[name] = {"ok": run()}
        except BaseException as err:
            said = next((line for line in str(err).splitlines() if line.strip()), "")
            report[name] = {"error": f"{type(err).__name__}: {said}"}

    def forward(auto):
        model = getattr(transformers, auto).from_pretrained(folder, trust_remote_code=True).eval()
        with torch.no_grad():
            out = model(torch.tensor(inputs)).reconstruction
        return {"module": type(model).__module__, "output": out.tolist()}

    def processor():
        proc = transformers.AutoImageProcessor.from_pretrained(folder, trust_remote_code=True)
        return {"module": type(proc).__module__, "pixels": proc(Image.open(image))["pixel_values"].tolist()}

    def pipe():
        restore = transformers.pipeline("image-restoration", model=folder, trust_remote_code=True)
        return {"module": type(restore).__module__, "image": np.asarray(restore(Image.open(image))).tolist()}

    step("AutoModel", lambda: forward("AutoModel"))
    step("AutoModelForImageToImage", lambda: forward("AutoModelForImageToImage"))
    step("AutoImageProcessor", processor)
    step("pipeline", pipe)
    print(json.dumps(report))
    """
)
STEPS = ("AutoModel", "AutoModelForImageToImage", "AutoImageProcessor", "pipeline")
# The failures that are answers: the code's version check, and transformers < 5.18's AutoImageProcessor, which
# wants torchvision before it looks at the folder.
EXPECTED_REFUSALS = ("SwinIR's model code needs transformers >=", "AutoImageProcessor requires the Torchvision library")


def export_tiny(work: Path) -> tuple[Path, dict]:
    """A tiny trained-like folder exported as the Hub's, and the package's outputs for the child's inputs."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, SwinIRImageProcessor, restore
    from swinir_hf.checkpoints import folders
    from swinir_hf.checkpoints.export import export_model_folder

    torch.manual_seed(0)
    tiny = {"embed_dim": 16, "depths": [2], "num_heads": [2], "window_size": 4, "image_size": 16, "num_feat": 8}
    model = SwinIRForImageRestoration(SwinIRConfig(**tiny, upscale=2, upsampler="pixelshuffledirect")).eval()
    folders.save_model_folder(work / "run", model)
    folder = export_model_folder(work / "run", work / "out", repo_id="me/tiny-x2").path
    rng = np.random.default_rng(0)
    inputs = torch.tensor(rng.random((1, 3, 9, 11), dtype=np.float32))
    Image.fromarray(rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)).save(work / "in.png")
    with torch.no_grad():
        expected = {
            "output": model(inputs).reconstruction,
            "pixels": torch.as_tensor(SwinIRImageProcessor()(Image.open(work / "in.png"))["pixel_values"]),
            "image": np.asarray(restore(model, Image.open(work / "in.png"), dtype="float32")),
        }
    return folder, {"inputs": inputs.tolist(), **expected}


def check(python: str, folder: Path, expected: dict, work: Path) -> dict:
    """`CHILD`'s report in `python`, each step's result replaced by "ok" (same outputs) or what differs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"HF_MODULES_CACHE": str(work / f"modules-{abs(hash(python))}"), "HF_HUB_OFFLINE": "1"}
    argument = json.dumps([str(folder), expected["inputs"], str(work / "in.png")])
    proc = subprocess.run(
        [python, "-c", CHILD, argument], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    if proc.returncode:
        return {"transformers": "?", "crash": proc.stderr.strip().splitlines()[-1:]}
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in STEPS:
        result = report[name].get("ok")
        if result is None:
            continue
        if not result["module"].startswith("transformers_modules."):
            report[name] = {"error": f"loaded {result['module']}, not the folder's code"}
        elif key := next((k for k in ("output", "pixels") if k in result), None):
            diff = (torch.tensor(result[key]) - expected[key]).abs().max().item()
            report[name] = "ok" if diff <= 1e-5 else {"error": f"max |diff| {diff:.2e}"}
        else:
            same = np.array_equal(np.asarray(result["image"], dtype=np.uint8), expected["image"])
            report[name] = "ok" if same else {"error": "pixels differ from restore()'s"}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pythons", nargs="+", help="Pythons of venvs without swinir-hf, one transformers each")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder, expected = export_tiny(work)
        for python in args.pythons:
            report = check(python, folder, expected, work)
            print(f"transformers {report['transformers']} ({python})")
            for name in STEPS:
                result = report.get(name, report.get("crash"))
                print(f"  {name:25} {result}")
                failed |= result != "ok" and not any(said in str(result) for said in EXPECTED_REFUSALS)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
