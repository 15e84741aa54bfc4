from django.urls import path

from hotline.tracing import views

app_name = "tracing"
urlpatterns = [
    path("tracing/providers/", views.provider_list, name="providers"),
    path("tracing/providers/new/", views.provider_new, name="provider_new"),
    path("tracing/providers/import/", views.import_view, name="import"),
    path("tracing/providers/<int:pk>/", views.provider_detail, name="provider"),
    path("tracing/providers/<int:pk>/edit/", views.provider_edit, name="provider_edit"),
    path("tracing/items/<int:pk>/", views.item_traces, name="item"),
    path("tracing/items/<int:pk>/origin/", views.record_origin, name="origin"),
    path("tracing/items/<int:pk>/retrace/", views.retrace, name="retrace"),
]
