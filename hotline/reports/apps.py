from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "hotline.reports"
    label = "reports"
