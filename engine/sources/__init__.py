"""Reading inputs: YAML with positions, the JSON Schemas, facts files."""
