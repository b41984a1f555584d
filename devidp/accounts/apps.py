from django.apps import AppConfig


class DevIdPAccountsConfig(AppConfig):
    name = "devidp.accounts"
    # Not "accounts": the product has an app of that name.
    label = "devidp_accounts"
    verbose_name = "Development IdP: demo participants"
