from django.urls import path

from hotline.partners import views

app_name = "partners"
urlpatterns = [
    path("partners/", views.directory_page, name="directory"),
    path("partners/hotline/", views.hotline_form, name="hotline_form"),
    path("partners/police/", views.police_form, name="police_form"),
    path("partners/import/", views.import_page, name="import"),
    path("partners/forwards/", views.forwards, name="forwards"),
    path("partners/forwards/items/<int:pk>/", views.item_forwards, name="item_forwards"),
    path("partners/inbound/", views.inbound, name="inbound"),
    path("partners/outbound/retry/", views.retry, name="retry"),
]
