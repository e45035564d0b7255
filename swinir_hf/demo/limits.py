"""The demo's default limits, importable without gradio: the command line checks its options, and
GRADIO_SERVER_PORT, before gradio is imported (gradio parses that variable at import, with a traceback)."""

from __future__ import annotations

DEFAULT_MAX_PIXELS = 1024 * 1024
DEFAULT_MAX_UPLOAD_MB = 50
# Seconds a restoration may run (0: none): on a machine of one's own, the only one waiting is whoever asked for it.
DEFAULT_TIME_LIMIT_S = 0
# On a Hugging Face Space (SPACE_ID set), where everyone else waits in the queue meanwhile. A free CPU Space has 2
# vCPUs: one pass over the largest input the demo takes (1 MP) needs about 44 s with a bundled ×4 model and 60-120 s
# with the authors' SwinIR-M ×4 on the 2-core CPU of benchmarks/README.md (bfloat16 / float32), which fit with room
# for a slower CPU; the ×8 self-ensemble of such an image (6-16 min) does not. On ZeroGPU it caps the GPU time a call
# asks for (`zerogpu.gpu_duration`).
SPACE_TIME_LIMIT_S = 180
UPLOAD_MAX_AGE_S = 3600  # gradio deletes uploads this old (checked as often)
# Largest upload "Shrink to fit" decodes: a 16-bit RGB image of 50 MP takes 300 MB as it is, and several times
# that on the way; Pillow's own limit (≈ 179 MP) let one small PNG take 4 GB.
MAX_SHRINK_PIXELS = 50_000_000
MIN_TILE = 8  # the smallest tile size a user may choose, in input pixels
