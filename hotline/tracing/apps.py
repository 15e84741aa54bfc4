from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "hotline.tracing"
    label = "tracing"
