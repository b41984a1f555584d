"""Editors build campaigns and their forms in the admin."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignField, FieldType, WhenPrefilled
from tests.factories import CampaignFactory, CampaignFieldFactory, OAuthIntegrationFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:campaigns_campaign_add")


def campaign_post(fields=(), **overrides):
    data = {
        "title": "Win a bike",
        "title_fr": "Gagnez un vélo",
        "slug": "win-a-bike",
        "description": "Tell us who you are.",
        "description_fr": "Dites-nous qui vous êtes.",
        "status": "live",
        "languages": ["en", "fr"],
        "sso_mode": "optional",
        "prefill_mode": "display",
        "participation_limit": "once",
        "embedding": "account",
        "oauth_integration": "",
        "fields-TOTAL_FORMS": str(len(fields)),
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }
    for index, field in enumerate(fields):
        row = {
            "label_fr": "",
            "field_type": "text",
            "options": "",
            "when_prefilled": "show",
            "position": str(index),
            **field,
        }
        if row.pop("required", False):
            row["required"] = "on"
        data.update({f"fields-{index}-{key}": value for key, value in row.items()})
    data.update(overrides)
    return data


def errors_of(response):
    form = response.context["adminform"].form
    inline_errors = [
        f.errors for formset in response.context["inline_admin_formsets"] for f in formset.formset
    ]
    return form.errors, inline_errors


def test_editor_builds_a_campaign_with_its_form(client, editor_a, account):
    client.force_login(editor_a)
    response = client.post(
        ADD_URL,
        campaign_post(
            fields=[
                {
                    "variable": "email",
                    "label_en": "E-mail",
                    "field_type": "email",
                    "required": True,
                },
                {
                    "variable": "gender",
                    "label_en": "Gender",
                    "field_type": "select",
                    "options": "m|Man|Homme\nf|Woman|Femme",
                    "when_prefilled": "readonly",
                },
                {
                    "variable": "favourite_colour",
                    "label_en": "Favourite colour",
                    "label_fr": "Couleur",
                },
            ]
        ),
    )
    assert response.status_code == 302, errors_of(response)
    campaign = Campaign.objects.get(slug="win-a-bike")
    assert campaign.account == account
    assert campaign.languages == ["en", "fr"]
    fields = list(campaign.fields.all())
    assert [f.variable for f in fields] == ["email", "gender", "favourite_colour"]
    assert fields[0].required and fields[0].field_type == FieldType.EMAIL
    assert fields[1].when_prefilled == WhenPrefilled.READONLY
    assert fields[2].label("fr") == "Couleur"
    # The editor's campaign is live at its public address.
    page = client.get(reverse("participants:form", args=["win-a-bike"]))
    assert page.status_code == 200 and "Favourite colour" in page.text


def test_new_campaign_proposes_firstname_lastname_and_email(client, editor_a):
    client.force_login(editor_a)
    page = client.get(ADD_URL)
    assert 'value="firstname"' in page.text
    assert 'value="lastname"' in page.text
    assert 'value="email"' in page.text


def test_proposed_fields_are_saved_when_left_as_proposed(client, editor_a):
    client.force_login(editor_a)
    page = client.get(ADD_URL)
    formset = page.context["inline_admin_formsets"][0].formset
    data = campaign_post()
    data["fields-TOTAL_FORMS"] = str(len(formset.forms))
    # What the browser sends for the proposed rows, untouched.
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            if name == "required":
                if value:
                    data[f"{form.prefix}-{name}"] = "on"
            elif value is not None and name not in ("id", "campaign"):
                data[f"{form.prefix}-{name}"] = value
    response = client.post(ADD_URL, data)
    assert response.status_code == 302, errors_of(response)
    campaign = Campaign.objects.get(slug="win-a-bike")
    assert list(campaign.fields.values_list("variable", "field_type", "required")) == [
        ("firstname", "text", True),
        ("lastname", "text", True),
        ("email", "email", True),
    ]


@pytest.mark.parametrize("variable", ["First Name", "1st", "e-mail", "émail", "a" * 70, "x;drop"])
def test_bad_variable_names_are_refused(client, editor_a, variable):
    client.force_login(editor_a)
    response = client.post(
        ADD_URL, campaign_post(fields=[{"variable": variable, "label_en": "Something"}])
    )
    assert response.status_code == 200
    assert not Campaign.objects.exists()
    _form_errors, inline_errors = errors_of(response)
    assert "variable" in inline_errors[0]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"variable": "email", "label_en": "E-mail", "field_type": "checkbox"}, "needs the type"),
        ({"variable": "quiz", "label_en": "Quiz", "field_type": "select"}, "List the options"),
        (
            {
                "variable": "gender",
                "label_en": "Gender",
                "field_type": "select",
                "options": "z|Zed",
            },
            "must be among",
        ),
        (
            {"variable": "quiz", "label_en": "Quiz", "field_type": "select", "options": "a\na"},
            "must be different",
        ),
    ],
)
def test_field_definitions_that_cannot_work_are_refused(client, editor_a, field, message):
    client.force_login(editor_a)
    response = client.post(ADD_URL, campaign_post(fields=[field]))
    assert response.status_code == 200
    assert message in response.text
    assert not CampaignField.objects.exists()


def test_gender_select_gets_the_standard_options(client, editor_a):
    client.force_login(editor_a)
    client.post(
        ADD_URL,
        campaign_post(
            fields=[{"variable": "gender", "label_en": "Gender", "field_type": "select"}]
        ),
    )
    assert CampaignField.objects.get().options == "m\nf\nx"


def test_a_variable_twice_is_refused(client, editor_a):
    client.force_login(editor_a)
    response = client.post(
        ADD_URL,
        campaign_post(
            fields=[
                {"variable": "city", "label_en": "City"},
                {"variable": "city", "label_en": "Town"},
            ]
        ),
    )
    assert response.status_code == 200
    assert not Campaign.objects.exists()


def test_end_before_start_is_refused(client, editor_a):
    client.force_login(editor_a)
    response = client.post(
        ADD_URL,
        campaign_post(
            **{
                "starts_at_0": "2030-06-01",
                "starts_at_1": "10:00:00",
                "ends_at_0": "2030-05-01",
                "ends_at_1": "10:00:00",
            }
        ),
    )
    assert response.status_code == 200
    assert "The end must come after the start." in response.text


def test_at_least_one_language(client, editor_a):
    client.force_login(editor_a)
    data = campaign_post()
    del data["languages"]
    response = client.post(ADD_URL, data)
    assert response.status_code == 200
    assert not Campaign.objects.exists()


# ---------------------------------------------------------------------------- SSO integration
def test_integration_choices_are_the_accounts_enabled_ones(
    client, editor_a, account, other_account
):
    own = OAuthIntegrationFactory(account=account, display_name="Own ID")
    OAuthIntegrationFactory(account=account, display_name="Switched off", enabled=False)
    OAuthIntegrationFactory(account=other_account, display_name="Foreign ID")
    client.force_login(editor_a)
    page = client.get(ADD_URL)
    choices = {str(i) for i in page.context["adminform"].form.fields["oauth_integration"].queryset}
    assert choices == {str(own)}


def test_another_accounts_integration_is_refused_even_when_forged(client, editor_a, other_account):
    foreign = OAuthIntegrationFactory(account=other_account)
    client.force_login(editor_a)
    response = client.post(ADD_URL, campaign_post(oauth_integration=str(foreign.pk)))
    assert response.status_code == 200
    assert "oauth_integration" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_model_validation_refuses_another_accounts_integration(account, other_account):
    from django.core.exceptions import ValidationError

    campaign = CampaignFactory.build(
        account=account, oauth_integration=OAuthIntegrationFactory(account=other_account)
    )
    with pytest.raises(ValidationError) as error:
        campaign.full_clean(exclude=["slug"])
    assert "oauth_integration" in error.value.message_dict


def test_staff_cannot_pair_a_campaign_with_another_accounts_integration(
    client, staff_user, account, other_account
):
    foreign = OAuthIntegrationFactory(account=other_account)
    client.force_login(staff_user)
    response = client.post(
        ADD_URL, campaign_post(account=str(account.pk), oauth_integration=str(foreign.pk))
    )
    assert response.status_code == 200
    assert not Campaign.objects.exists()


def test_required_sso_needs_an_integration(client, editor_a):
    client.force_login(editor_a)
    response = client.post(ADD_URL, campaign_post(sso_mode="required"))
    assert response.status_code == 200
    assert "needs an SSO integration" in response.text


def test_editor_picks_the_accounts_integration(client, editor_a, account):
    own = OAuthIntegrationFactory(account=account)
    client.force_login(editor_a)
    response = client.post(
        ADD_URL, campaign_post(oauth_integration=str(own.pk), sso_mode="required")
    )
    assert response.status_code == 302, errors_of(response)
    assert Campaign.objects.get().oauth_integration == own


# ---------------------------------------------------------------------------- change page
def test_change_page_links_to_the_public_page_and_statistics(client, editor_a, account):
    campaign = CampaignFactory(account=account)
    CampaignFieldFactory(campaign=campaign)
    client.force_login(editor_a)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200
    assert "View on site" in page.text
    # The existing fields are there to edit (inline permissions follow the parent campaign).
    assert 'name="fields-0-variable"' in page.text and 'value="firstname"' in page.text
    assert reverse("admin:participants_participation_export", args=[campaign.pk]) in page.text
    assert reverse("admin:participants_participation_export_xlsx", args=[campaign.pk]) in page.text
    changelist = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert f"/c/{campaign.slug}/" in changelist.text


def test_a_row_added_but_left_blank_is_ignored(client, editor_a):
    client.force_login(editor_a)
    data = campaign_post(fields=[{"variable": "city", "label_en": "City"}])
    data.update({"fields-TOTAL_FORMS": "2", "fields-1-position": "20"})
    data.update({f"fields-1-{name}": "" for name in ("variable", "label_en", "options")})
    data.update({"fields-1-field_type": "text", "fields-1-when_prefilled": "show"})
    response = client.post(ADD_URL, data)
    assert response.status_code == 302, errors_of(response)
    assert list(CampaignField.objects.values_list("variable", flat=True)) == ["city"]


def test_reordering_existing_fields_is_saved(client, editor_a, account):
    campaign = CampaignFactory(account=account, slug="win-a-bike")
    first = CampaignFieldFactory(campaign=campaign, variable="firstname", position=10)
    second = CampaignFieldFactory(campaign=campaign, variable="lastname", position=20)
    client.force_login(editor_a)
    data = campaign_post()
    rows = [(first, 20), (second, 10)]
    data.update({"fields-TOTAL_FORMS": "2", "fields-INITIAL_FORMS": "2"})
    for index, (field, position) in enumerate(rows):
        data.update(
            {
                f"fields-{index}-id": str(field.pk),
                f"fields-{index}-campaign": str(campaign.pk),
                f"fields-{index}-variable": field.variable,
                f"fields-{index}-label_en": field.label_en,
                f"fields-{index}-field_type": "text",
                f"fields-{index}-when_prefilled": "show",
                f"fields-{index}-position": str(position),
            }
        )
    response = client.post(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), data)
    assert response.status_code == 302, errors_of(response)
    assert list(campaign.fields.values_list("variable", flat=True)) == ["lastname", "firstname"]


@pytest.mark.parametrize("switch", ["account", "entitlement"])
def test_a_campaign_cannot_attach_an_integration_staff_switched_off(
    client, staff_user, editor_a, account, switch
):
    """Issue 14, finding 2: with the entitlement removed, an editor could still attach the
    integration to a new campaign. Neither the choices nor a forged POST allow it now."""
    integration = OAuthIntegrationFactory(account=account, display_name="Own ID")
    if switch == "entitlement":
        account.sso_oauth_enabled = False
    else:
        account.is_active = False
    account.save()
    # An inactive account's editor cannot reach the admin's campaigns: staff try it for them.
    user = editor_a if switch == "entitlement" else staff_user
    client.force_login(user)
    extra = {} if switch == "entitlement" else {"account": str(account.pk)}
    page = client.get(ADD_URL)
    assert not page.context["adminform"].form.fields["oauth_integration"].queryset.exists()
    response = client.post(ADD_URL, campaign_post(oauth_integration=str(integration.pk), **extra))
    assert response.status_code == 200
    assert "oauth_integration" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_a_campaign_keeps_an_integration_switched_off_after_it_was_attached(
    client, editor_a, account
):
    # Editing a campaign for something else must not fail on its (now unusable) integration.
    integration = OAuthIntegrationFactory(account=account, display_name="Own ID")
    client.force_login(editor_a)
    response = client.post(ADD_URL, campaign_post(oauth_integration=str(integration.pk)))
    assert response.status_code == 302, errors_of(response)
    campaign = Campaign.objects.get()
    account.sso_oauth_enabled = False
    account.save()
    change = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = client.post(
        change, campaign_post(oauth_integration=str(integration.pk), title="Renamed")
    )
    assert response.status_code == 302, errors_of(response)
    campaign.refresh_from_db()
    assert campaign.title == "Renamed"
    assert campaign.login_integration is None
