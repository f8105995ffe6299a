"""The pure core: value objects and rules over them, with no git, HTTP or database."""
