"""Rule sets as data: the model, the loader, time lines (consolidation) and the dependency graph."""
