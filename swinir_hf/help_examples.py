"""The examples that end each `swinir-hf` command's `--help`, and the formatter that prints them as written while
wrapping the prose around them to the terminal. No torch here: `--help` answers at once."""

from __future__ import annotations

import argparse

EXAMPLES = {
    "swinir-hf": [
        "swinir-hf restore photo.jpg -o out/",
        "swinir-hf eval --model sr-x4 --dataset Set5/",
        "swinir-hf COMMAND --help",
    ],
    "convert": ["swinir-hf convert 001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth swinir-x4/"],
    "models": ["swinir-hf models"],
    "eval": [
        "swinir-hf eval --model sr-x4 --dataset Set5/ Set14/",
        "swinir-hf eval --model denoise-color --dataset CBSD68/ --noise 25 --verbose",
    ],
    "restore": [
        "swinir-hf restore photo.jpg -o out/",
        "swinir-hf restore scans/ --recursive --model real-sr-x4 --ext auto -o out/",
    ],
    "hub": ["swinir-hf hub model_zoo/swinir/ -o export/ --dry-run"],
    "train": [
        "swinir-hf train --config tiny_sr_x2 -o runs/tiny",
        "swinir-hf train --config real_sr_x4_psnr --init-from model.pth --resume latest",
    ],
    "demo": ["swinir-hf demo --port 7860"],
}


def with_examples(command: str, text: str = "") -> str:
    """`text` (an epilog, or none) after `command`'s examples."""
    lines = "\n".join(f"  {line}" for line in EXAMPLES[command])
    return f"examples:\n{lines}" + (f"\n\n{text}" if text else "")


class ExamplesFormatter(argparse.HelpFormatter):
    """argparse's formatter, but indented lines (the examples) are kept as written; the rest is wrapped as ever."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks: list[str] = []
        prose: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.startswith("  ") or not line:
                if prose:
                    blocks.append(super()._fill_text(" ".join(prose), width, indent))
                    prose = []
                blocks.append(indent + line)
            else:
                prose.append(line)
        return "\n".join(blocks[:-1])
