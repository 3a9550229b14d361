"""The one exception type jamd raises at its boundaries; the CLI prints it as one line."""


class JamdError(Exception):
    """A problem the user can act on: the message says what, where, and what to do."""
