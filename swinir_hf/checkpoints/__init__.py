"""Checkpoints and the Hub: the authors' files converted (`convert`) and catalogued (`catalog`), models loaded by
name, path or Hub id (`loading`), model folders saved and pushed (`folders`), and the Hub export (`export`,
`swinir-hf hub`). Its modules, each in a line: README.md, "Where things live"."""
