from django.apps import AppConfig


class SelfReferralConfig(AppConfig):
    name = "hotline.selfreferral"
    label = "selfreferral"
    verbose_name = "Self-referral"
