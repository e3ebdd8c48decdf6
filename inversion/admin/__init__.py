"""The inversion app's admin, by concern; ``thumbnail`` is shared with the other apps' pages."""

from inversion.admin import jobs, networks, stimuli, targets
from inversion.admin.stimuli import thumbnail

__all__ = ["jobs", "networks", "stimuli", "targets", "thumbnail"]
