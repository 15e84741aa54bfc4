from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "hotline.retention"
    label = "retention"

    def ready(self) -> None:
        from hotline.retention import checks  # noqa: F401  (registers the system check)
