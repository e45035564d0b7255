"""The inference layer: the restoration engine (`restoration`), its tile planner (`tiling`), image files
(`image_io`) and whole collections across processes (`collection`)."""
