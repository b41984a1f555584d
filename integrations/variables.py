"""The catalogue of participant profile variables that mappings fill and campaign forms ask for."""

import re
from dataclasses import dataclass
from enum import StrEnum


class VariableType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    DATE = "date"
    PHONE = "phone"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    COUNTRY = "country"
    LANGUAGE = "language"


@dataclass(frozen=True)
class Variable:
    name: str
    type: VariableType
    label_en: str
    label_fr: str
    max_length: int = 255
    choices: tuple[str, ...] = ()
    # How the notice next to the login button names the value, where the form label is a
    # sentence ("I want to receive the newsletter"); blank: the label.
    notice_en: str = ""
    notice_fr: str = ""

    def notice_label(self, language: str) -> str:
        """The value's name in a list of what a login shares, in `language` (en or fr)."""
        if language.startswith("fr"):
            return self.notice_fr or self.label_fr
        return self.notice_en or self.label_en


STANDARD_VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("firstname", VariableType.TEXT, "First name", "Prénom", 100),
        Variable("lastname", VariableType.TEXT, "Last name", "Nom", 100),
        Variable("email", VariableType.EMAIL, "E-mail address", "Adresse e-mail", 254),
        Variable("gender", VariableType.CHOICE, "Gender", "Genre", 1, choices=("m", "f", "x")),
        Variable("birthdate", VariableType.DATE, "Date of birth", "Date de naissance", 10),
        Variable("phone", VariableType.PHONE, "Phone number", "Numéro de téléphone", 32),
        Variable("street", VariableType.TEXT, "Street and number", "Rue et numéro", 200),
        Variable("zipcode", VariableType.TEXT, "Postal code", "Code postal", 20),
        Variable("city", VariableType.TEXT, "City", "Ville", 100),
        Variable("country", VariableType.COUNTRY, "Country", "Pays", 2),
        Variable("language", VariableType.LANGUAGE, "Language", "Langue", 8),
        Variable(
            "optin_newsletter",
            VariableType.BOOLEAN,
            "I want to receive the newsletter",
            "Je souhaite recevoir la newsletter",
            5,
            notice_en="Newsletter consent",
            notice_fr="Consentement à la newsletter",
        ),
        Variable(
            "optin_partners",
            VariableType.BOOLEAN,
            "I accept offers from partners",
            "J’accepte les offres des partenaires",
            5,
            notice_en="Consent to partner offers",
            notice_fr="Consentement aux offres des partenaires",
        ),
    ]
}

# Custom variables: lowercase letters, digits and underscores, starting with a letter.
VARIABLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CUSTOM_MAX_LENGTH = 255


def is_valid_variable_name(name: str) -> bool:
    return bool(VARIABLE_NAME_RE.match(name or ""))


def get_variable(name: str) -> Variable:
    """The standard variable, or a free-text custom one."""
    if name in STANDARD_VARIABLES:
        return STANDARD_VARIABLES[name]
    if not is_valid_variable_name(name):
        raise ValueError(f"{name!r} is not a valid variable name")
    return Variable(name, VariableType.TEXT, name, name, CUSTOM_MAX_LENGTH)
