"""The training layer: the config (`config`), the loop (`loop`), what a run writes and resumes from (`saving`,
`state`), its data (`images`, `data`) and its command line (`cli`: `python -m swinir_hf.train`, `swinir-hf train`).
Its modules, each in a line: README.md, "Where things live"."""
