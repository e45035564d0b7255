"""Checkpoints and the Hub: the converter for the authors' files (`convert`), the release catalogue (`catalog`,
`catalog.yaml`), model cards (`cards`), loading by name / path / Hub id (`loading`; `hub_lookup` without torch), a
model's digest (`fingerprint`), model folders (`folders`), Hub export (`export`) with the model code it ships
(`remote_code`), its checks (`verification`) and its command line (`export_cli`; its options: `export_arguments`)."""
