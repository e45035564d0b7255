"""Checkpoints and the Hub: the converter for the authors' files (`convert`), the release catalogue (`catalog`,
`catalog.yaml`), model cards (`cards`), loading by name / path / Hub id (`loading`), Hub export (`export`) and
its command line (`export_cli`), and model folders (`folders`)."""
