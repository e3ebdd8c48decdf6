"""The surveys app's admin, by area: studies (``studies``), survey designs and trials
(``designs``), the people who answer and their pay (``workers``), the audit log (``audit``),
human similarity data (``similarity``). Importing this package registers them all."""

from surveys.admin import audit, designs, similarity, studies, workers
from surveys.admin.studies import StudyAdmin

__all__ = ["StudyAdmin", "audit", "designs", "similarity", "studies", "workers"]
