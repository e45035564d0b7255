"""The inference layer: the restoration engine (`restoration`: `restore`, `SwinIRRestorer`), the files it reads and
writes, and the `swinir-hf restore` command line over collections and datasets. Its modules, each in a line:
README.md, "Where things live". Safe writes and output folders, which every layer uses, are `swinir_hf.storage`'s."""
