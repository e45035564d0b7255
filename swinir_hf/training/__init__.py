"""The training layer: the config schema (`config`), the loop (`loop`), training data (`data`) and the GAN
objective (`gan`). Run it with `python -m swinir_hf.train` or `swinir-hf train`."""
