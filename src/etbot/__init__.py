"""etbot: ET:Legacy stats for Discord communities."""

__version__ = "0.1.0"
