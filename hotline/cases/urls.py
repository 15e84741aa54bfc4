from django.urls import path

from hotline.cases import views

app_name = "cases"
urlpatterns = [
    path("cases/", views.case_list, name="list"),
    path("cases/new/", views.case_new, name="new"),
    path("cases/outcomes/import/", views.import_page, name="import"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/items/add/", views.add_items, name="add_items"),
    path("cases/<int:pk>/items/remove/", views.remove_item, name="remove_item"),
    path("cases/<int:pk>/close/", views.close, name="close"),
    path("cases/<int:pk>/reopen/", views.reopen, name="reopen"),
    path("cases/<int:pk>/refer/", views.refer, name="refer"),
    path("cases/<int:pk>/outcomes/", views.record_outcome, name="outcome"),
]
