from django.urls import path

from surveys import views

app_name = "surveys"
urlpatterns = [
    path("s/<uuid:survey_uuid>/", views.survey_landing, name="landing"),
    path("s/<uuid:survey_uuid>/preview/", views.survey_preview, name="preview"),
    path("a/<str:token>/", views.assignment_page, name="assignment"),
    path("a/<str:token>/trial.json", views.assignment_trial_json, name="trial-json"),
    path("a/<str:token>/answer", views.assignment_answer, name="answer"),
    path("a/<str:token>/practice", views.assignment_practice, name="practice"),
    path("a/<str:token>/exit", views.assignment_exit, name="exit"),
]
