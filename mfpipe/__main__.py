"""``python -m mfpipe``: the CLI, for processes that mfpipe starts itself (a batch's runner
and its launchers) whatever the PATH holds."""

from mfpipe.cli import entry_point

entry_point()
