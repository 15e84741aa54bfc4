from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "hotline.routing"
    label = "routing"

    def ready(self) -> None:
        from hotline.routing.services import withdrawals

        withdrawals.register()
