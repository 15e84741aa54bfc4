from django.urls import path

from hotline.mailintake import views

app_name = "mailintake"
urlpatterns = [
    path("mail/", views.mail_list, name="mails"),
    path("mail/<int:pk>/", views.mail_detail, name="mail"),
    path("mail/<int:pk>/text/", views.mail_text, name="mail_text"),
    path("mail/senders/", views.sender_list, name="senders"),
    path("mail/senders/new/", views.sender_new, name="sender_new"),
    path("mail/senders/<int:pk>/", views.sender_edit, name="sender_edit"),
    path("mail/senders/<int:pk>/token/", views.sender_token, name="sender_token"),
]
