"""Errors a user can cause.

Every problem that comes from the user's input (a corrupt video, a CSV with the wrong columns, a clip with
nobody in it) is raised as :class:`InputError` with a message a clinician understands. Pages show it with
``st.error``; the CLI prints it on one line and exits with status 2. Anything else is a bug.
"""


class MoveScopeError(Exception):
    """Base class of MoveScope's own errors."""


class InputError(MoveScopeError):
    """The user's input cannot be analysed; ``str(error)`` says why in plain words."""
