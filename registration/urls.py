from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_reference, views_returning

app_name = "registration"

urlpatterns = [
    path("", views.account_home, name="home"),
    path("register/", views.entry, name="entry"),
    path("register/account/", views.signup, name="signup"),
    path("register/code/", views.code_request, name="code_request"),
    path("register/licence-ocr/", views.licence_ocr, name="licence_ocr"),
    path("register/returning/", views_returning.returning, name="returning"),
    path(
        "register/returning/link/<str:token>/",
        views_returning.returning_link,
        name="returning_link",
    ),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.password_reset_view, name="password_reset"),
    path("unit/", views.unit_info, name="unit_info"),
    path("unit/autosave/", views.unit_autosave, name="unit_autosave"),
    path("unit/licence/", views.unit_licence, name="unit_licence"),
    path(
        "reference/divisions/<str:code>/",
        views_reference.division_children,
        name="division_children",
    ),
    path("reference/industries/", views_reference.industry_search, name="industry_search"),
]
