"""The inference layer: the restoration engine (`restoration`), where and in what precision it runs (`devices`),
what an output needs and the tile budgets (`memory`), the tile planner (`tiling`), image files read (`image_io`,
with `deep_decoders` for the levels Pillow loses) and written (`image_writing`), the inputs a command line names
(`files`), the plan of outputs (`jobs`) and one process's loop over it (`job_runner`), whole collections across
processes (`collection`) and their command line (`collection_cli`: `swinir-hf restore`). Safe writes and output
folders, which every layer uses, are `swinir_hf.storage`'s."""
