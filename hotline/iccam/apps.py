from django.apps import AppConfig


class IccamConfig(AppConfig):
    name = "hotline.iccam"
    label = "iccam"
    verbose_name = "ICCAM"

    def ready(self) -> None:
        from hotline.iccam import checks  # noqa: F401 - registers the system checks
