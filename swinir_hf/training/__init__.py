"""The training layer: the config (`config`) and its sections' schema (`sections`), the command line (`cli`), the
loop (`loop`), what a run writes (`saving`) and carries from step to step (`state`), validation (`validation`), the
checks before the first step (`checks`), stopping on a signal (`signals`), the training images (`images`) and the
data made of them (`data`), the GAN objective (`gan`) and the run's model card (`card`). Run it with
`python -m swinir_hf.train` or `swinir-hf train`."""
