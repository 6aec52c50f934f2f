"""The transfer graph: CSR arrays built from the store, cached on disk, memory-mapped."""
