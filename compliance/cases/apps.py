from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    """Regulators' cases: the workflow from a flag or complaint to a decision, with its audit trail."""

    name = "compliance.cases"
    label = "cases"
    verbose_name = _("Cases")
