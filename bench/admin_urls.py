"""URLs for bench/admin_pages.py: the real admin, plus a plain ModelAdmin for Customer as the baseline."""

from django.contrib import admin
from django.urls import path

from customers.models import Customer

plain_site = admin.AdminSite(name="plain")


class PlainCustomerAdmin(admin.ModelAdmin):
    """What `admin.site.register(Customer)` gives, with the search a plain admin would add."""

    search_fields = ["first_name", "last_name", "email", "phone"]


plain_site.register(Customer, PlainCustomerAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("plain-admin/", plain_site.urls),
]
