"""The model layer: exactly the modules a Hub folder ships as remote code (`trust_remote_code=True`).

They import each other and nothing else of `swinir_hf` (tests/test_layout.py checks it): the Hub copies must load
without the package. Importing this package loads nothing (`constants_swinir` stays free of torch and
transformers); `swinir_hf.registration` registers the classes with transformers' Auto classes and
`pipeline("image-restoration")`, as soon as transformers loads.
"""
