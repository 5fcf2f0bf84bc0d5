"""The unit's survey pages, under its account (``/accounts/survey/``, namespace ``survey``)."""

from django.urls import path

from . import views

app_name = "survey"

urlpatterns = [
    path("", views.survey_current, name="current"),
    path("<int:pk>/", views.survey_answer, name="answer"),
]
