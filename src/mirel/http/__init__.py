"""What the two HTTP faces (the REST API and the pages) and the client share: the envelope of
every answer and the answer models (`models`), the one error pipeline (`pipeline`), and the route
walker each face checks its declarations with (`routes`)."""
