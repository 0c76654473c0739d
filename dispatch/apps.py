from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch")

    def ready(self) -> None:
        from delivery import transitions
        from dispatch.services.offers import order_ended_withdraw

        if order_ended_withdraw not in transitions.TRANSITION_HOOKS:
            transitions.TRANSITION_HOOKS.append(order_ended_withdraw)
