"""Files and folders written safely, by every layer: atomic writes and saves (`atomic_writes`), output folders
checked and claimed (`output_folders`), the file system's limits on names (`paths`)."""
