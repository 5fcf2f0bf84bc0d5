"""The meetings pages' URLs (included by ``urls.py``, in the registration namespace)."""

from django.urls import path

from . import views_meetings

urlpatterns = [
    path(
        "exhibitors/<int:pk>/meeting/",
        views_meetings.meeting_request,
        name="meeting_request",
    ),
    path("meetings/", views_meetings.meeting_list, name="meetings"),
    path(
        "meetings/calendar.ics",
        views_meetings.meetings_calendar_all,
        name="meetings_calendar",
    ),
    path(
        "meetings/<int:pk>/calendar.ics",
        views_meetings.meeting_calendar,
        name="meeting_calendar",
    ),
    path("meetings/<int:pk>/cancel/", views_meetings.meeting_cancel, name="meeting_cancel"),
    # The exhibitor's page: no account, the signed token is the key (meeting_links).
    path(
        "exhibitor-meetings/<str:token>/",
        views_meetings.exhibitor_meetings,
        name="exhibitor_meetings",
    ),
]
