from django.urls import path

from hotline.evidence import views

app_name = "evidence"
urlpatterns = [
    path("media/<int:pk>/preview.png", views.thumbnail, name="thumbnail"),
    path("media/<int:pk>/revealed.png", views.revealed, name="revealed"),
    path("media/<int:pk>/reveal/", views.reveal, name="reveal"),
    path("captures/<int:pk>/screenshot.png", views.screenshot_thumbnail, name="screenshot"),
    path("captures/<int:pk>/screenshot-revealed.png", views.screenshot_revealed, name="screenshot_revealed"),
    path("captures/<int:pk>/screenshot/reveal/", views.screenshot_reveal, name="screenshot_reveal"),
    path("viewing/heartbeat/", views.heartbeat, name="heartbeat"),
    path("viewing/exposure/", views.exposure_report, name="exposure"),
]
