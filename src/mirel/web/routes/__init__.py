"""The page routes, one module per area; each route parses, calls one view or operation, renders."""
