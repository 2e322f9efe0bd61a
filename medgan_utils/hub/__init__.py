"""medigan and the unified catalog: catalog, entries, generation, packages, export."""
