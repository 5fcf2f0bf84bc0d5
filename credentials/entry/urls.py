"""入场核验 at ``gate/`` (namespace ``gate``): the staff page and its JSON twin, the gate app a
registered device runs, and the device API (docs/gate.md)."""

from django.urls import path

from . import views, views_api, views_app, views_events

app_name = "gate"
urlpatterns = [
    path("", views.gate_page, name="page"),
    path("check/", views.gate_check, name="check"),
    path("scans/<int:scan_id>/force/", views.gate_force, name="force"),
    path("photo/<str:token>/", views.gate_photo, name="photo"),
    # At a side event's door: is the holder on its list?
    path("events/", views_events.event_list, name="events"),
    path("events/<int:event_id>/check/", views_events.event_check_page, name="event_check"),
    path("app/", views_app.gate_app, name="app"),
    path("app/manifest.webmanifest", views_app.manifest, name="app-manifest"),
    path("app/sw.js", views_app.service_worker, name="app-sw"),
    path("api/enrol/", views_api.enrol, name="api-enrol"),
    path("api/bundle/", views_api.bundle, name="api-bundle"),
    path("api/scan/", views_api.scan, name="api-scan"),
    path("api/scans/", views_api.scans, name="api-scans"),
]
