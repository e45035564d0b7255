"""Convert the SwinIR authors' released `.pth` files into verified Hub repos and (optionally) push them.

Same as `swinir-hf hub`; the catalogue of releases is `swinir_hf/catalog.yaml`. See docs/hub.md.

    python hub/convert_and_push.py path/to/model_zoo/swinir -o hub/out --dry-run
    python hub/convert_and_push.py path/to/model_zoo/swinir -o hub/out --push --org ORG
"""

import sys

from swinir_hf.checkpoints.export_cli import main

if __name__ == "__main__":
    sys.exit(main())
