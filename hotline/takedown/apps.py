from django.apps import AppConfig


class TakedownConfig(AppConfig):
    name = "hotline.takedown"
    label = "takedown"

    def ready(self) -> None:
        from hotline.takedown import conf  # noqa: F401  (registers the settings checks)
