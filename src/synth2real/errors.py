"""User-facing errors: each says what is wrong, where, and how to fix it."""


class Synth2RealError(Exception):
    """An error caused by input or configuration, not by a bug; shown without traceback."""


class ConfigError(Synth2RealError):
    """The configuration is invalid (names the key, the value and what is allowed)."""


class DataError(Synth2RealError):
    """An input file or folder is missing, empty, corrupt or too small."""
