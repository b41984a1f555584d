import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Account, Membership, Role
from accounts.permissions import PLATFORM_STAFF_GROUP
from campaigns.models import Campaign, CampaignField, CampaignStatus, FieldType
from integrations.models import OAuthIntegration
from participants.models import Participant, Participation

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.Sequence(lambda n: f"customer-{n}")
    sso_oauth_enabled = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.EDITOR


def make_staff(**kwargs):
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=PLATFORM_STAFF_GROUP))
    return user


def make_member(account, role=Role.EDITOR, **kwargs):
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, account=account, role=role)
    return user


class OAuthIntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OAuthIntegration

    account = factory.SubFactory(AccountFactory)
    display_name = "Example ID"
    client_id = "campaign-sso-client"
    client_secret = "s3cr3t:with+odd/chars=%"
    authorization_endpoint = "https://idp.example.com/authorize"
    token_endpoint = "https://idp.example.com/token"
    scope = "openid email profile"
    issuer = "https://idp.example.com"
    jwks_uri = "https://idp.example.com/jwks"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Summer contest {n}")
    title_fr = factory.Sequence(lambda n: f"Concours d’été {n}")
    slug = factory.Sequence(lambda n: f"summer-contest-{n}")
    status = CampaignStatus.LIVE
    languages = factory.LazyFunction(lambda: ["en", "fr"])


class CampaignFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignField

    campaign = factory.SubFactory(CampaignFactory)
    variable = "firstname"
    label_en = "First name"
    label_fr = "Prénom"
    position = factory.Sequence(lambda n: n)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    account = factory.SubFactory(AccountFactory)
    issuer_key = "https://idp.example.com"
    subject = factory.Sequence(lambda n: f"idp-subject-{n}")


class ParticipationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participation

    campaign = factory.SubFactory(CampaignFactory)
    values = factory.LazyFunction(lambda: {"firstname": "Ada"})
    language = "en"
    submission_token = factory.Sequence(lambda n: f"token-{n:040d}")


def make_form_campaign(**kwargs):
    """A live campaign asking firstname, lastname, email (required) and a few optional fields."""
    campaign = CampaignFactory(**kwargs)
    specs = [
        ("firstname", FieldType.TEXT, "First name", "Prénom", True),
        ("lastname", FieldType.TEXT, "Last name", "Nom", True),
        ("email", FieldType.EMAIL, "E-mail address", "Adresse e-mail", True),
        ("birthdate", FieldType.DATE, "Date of birth", "Date de naissance", False),
        ("phone", FieldType.PHONE, "Phone number", "Téléphone", False),
        ("gender", FieldType.SELECT, "Gender", "Genre", False),
        ("optin_newsletter", FieldType.CHECKBOX, "Newsletter", "Lettre d’information", False),
    ]
    for position, (variable, field_type, label_en, label_fr, required) in enumerate(specs):
        CampaignFieldFactory(
            campaign=campaign,
            variable=variable,
            field_type=field_type,
            label_en=label_en,
            label_fr=label_fr,
            required=required,
            position=position,
            options="m|Man|Homme\nf|Woman|Femme\nx|Other|Autre" if variable == "gender" else "",
        )
    return campaign
