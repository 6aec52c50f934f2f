"""Bitcoin: raw blocks from a node's JSON-RPC or blk*.dat files, parsed by the project."""
