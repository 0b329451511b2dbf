"""``tptctl``: the Threeport command line. It talks only to the api-gateway, through the SDK."""

__version__ = "0.1.0"  # the distribution's version too (pyproject.toml reads it from here)
