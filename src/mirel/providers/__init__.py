"""Providers: where the repository is hosted and where its pull requests live."""
