"""The training layer: the config schema (`config`), the command line (`cli`), the loop (`loop`), what a run
carries from step to step (`state`), validation (`validation`), the checks before the first step and stopping on a
signal (`checks`), training data (`data`), the GAN objective (`gan`) and the run's model card (`card`). Run it with
`python -m swinir_hf.train` or `swinir-hf train`."""
