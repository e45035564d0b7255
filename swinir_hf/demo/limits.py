"""The demo's default limits, importable without gradio: the command line checks its options, and
GRADIO_SERVER_PORT, before gradio is imported (gradio parses that variable at import, with a traceback)."""

from __future__ import annotations

DEFAULT_MAX_PIXELS = 1024 * 1024
DEFAULT_MAX_UPLOAD_MB = 50
# Seconds a restoration may run (0: none): on a machine of one's own, the only one waiting is whoever asked for it. A
# shared server sets one (`--time-limit`; the CPU Space's is `hub/build_space.py`'s).
DEFAULT_TIME_LIMIT_S = 0
UPLOAD_MAX_AGE_S = 3600  # gradio deletes uploads this old (checked as often)
# Largest upload "Shrink to fit" decodes: a 16-bit RGB image of 50 MP takes 300 MB as it is, and several times
# that on the way; Pillow's own limit (≈ 179 MP) let one small PNG take 4 GB.
MAX_SHRINK_PIXELS = 50_000_000
MIN_TILE = 8  # the smallest tile size a user may choose, in input pixels
