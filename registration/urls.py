from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import (
    views,
    views_account,
    views_addresses,
    views_join,
    views_my_data,
    views_reference,
    views_returning,
    views_visitors,
)
from .side_events import views as views_side_events

app_name = "registration"

urlpatterns = [
    path("", views_visitors.dashboard, name="home"),
    path("visitors/", views_visitors.visitor_list, name="visitors"),
    path("visitors/add/<str:person_type>/", views_visitors.visitor_add, name="visitor_add"),
    path("visitors/submit/", views_visitors.visitors_submit_view, name="visitors_submit"),
    path("visitors/delete/", views_visitors.visitors_delete_view, name="visitors_delete"),
    path("visitors/reuse/", views_visitors.visitors_reuse_view, name="visitors_reuse"),
    path("visitors/<int:pk>/", views_visitors.visitor_edit, name="visitor_edit"),
    path("visitors/<int:pk>/delete/", views_visitors.visitor_delete_view, name="visitor_delete"),
    path("visitors/<int:pk>/photo/", views_visitors.visitor_photo, name="visitor_photo"),
    path("submit/", views_visitors.unit_submit_view, name="unit_submit"),
    path("join/", views_join.join_invite_view, name="join_invite"),
    path("join/qr.png", views_join.join_qr_view, name="join_qr"),
    path("join/approve/", views_join.join_approve_view, name="join_approve"),
    path("join/<str:token>/", views_join.join_view, name="join"),
    path("addresses/", views_addresses.address_list, name="addresses"),
    path("addresses/add/", views_addresses.address_add, name="address_add"),
    path("addresses/<int:pk>/edit/", views_addresses.address_edit, name="address_edit"),
    path("addresses/<int:pk>/delete/", views_addresses.address_delete_view, name="address_delete"),
    path("addresses/<int:pk>/default/", views_addresses.address_default, name="address_default"),
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
    path("my-data/", views_my_data.my_data, name="my_data"),
    # 配套活动报名
    path("side-events/", views_side_events.side_event_list, name="side_events"),
    path("side-events/<int:pk>/", views_side_events.side_event_detail, name="side_event"),
    path(
        "side-events/signups/<int:pk>/cancel/",
        views_side_events.side_event_cancel,
        name="side_event_cancel",
    ),
    # 供采对接: the exhibitor directory, matching, meetings (registration/exhibitors).
    path("", include("registration.exhibitors.urls")),
    # 账户管理: password, mobile, email, contact person, other sessions.
    path("account/", views_account.account, name="account"),
    path("account/password/", views_account.account_password, name="account_password"),
    path("account/mobile/", views_account.account_mobile, name="account_mobile"),
    path("account/email/", views_account.account_email, name="account_email"),
    path("account/contact/", views_account.account_contact, name="account_contact"),
    path("account/sessions/", views_account.account_sessions, name="account_sessions"),
    path(
        "reference/divisions/<str:code>/",
        views_reference.division_children,
        name="division_children",
    ),
    path("reference/divisions/", views_reference.division_search, name="division_search"),
    path("reference/industries/", views_reference.industry_search, name="industry_search"),
]
