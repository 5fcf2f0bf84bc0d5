from django.urls import path

from . import views, views_cancel

app_name = "credentials"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("new/", views.order_create_view, name="order_new"),
    # 注销: the unit cancels one of its visitors (from 已提交 onward).
    path("visitors/<int:pk>/cancel/", views_cancel.visitor_cancel_view, name="visitor_cancel"),
    path("<str:number>/", views.order_detail, name="order_detail"),
    path("<str:number>/cancel/", views.order_cancel_view, name="order_cancel"),
]
