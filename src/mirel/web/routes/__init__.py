"""The page routes, one module per area; each route parses, calls one operation, renders."""
