"""The demo participants of the development IdP.

Plain data, importable without Django (the test fixture reads it). Together the profiles cover
every standard variable of the product's catalogue (`integrations/variables.py`), in the formats
real IdPs send: `alice` has everything, `bob` lacks phone and birthdate, `chloe` has opted out
and writes her country as a name.
"""

DEMO_PASSWORD = "demo-participant-123"

DEMO_PARTICIPANTS = {
    "alice": {
        "subject": "6f1c2a0e-5d1b-4c39-9a43-1f0a5b7e2c01",
        "first_name": "Alice",
        "last_name": "Martin",
        "email": "alice.martin@example.com",
        "gender": "female",
        "birthdate": "1990-04-12",
        "phone_number": "+32 470 12 34 56",
        "street_address": "Rue de la Loi 16",
        "locality": "Bruxelles",
        "postal_code": "1000",
        "country": "BE",
        "locale": "fr-BE",
        "optin_newsletter": True,
        "optin_partners": True,
        "loyalty_id": "LOY-100234",
    },
    "bob": {
        "subject": "0b7d3c52-8e4f-4b8a-b6d9-2e5c7a9f4d02",
        "first_name": "Bob",
        "last_name": "Smith",
        "email": "bob.smith@example.com",
        "gender": "male",
        "birthdate": None,
        "phone_number": "",
        "street_address": "221B Baker Street",
        "locality": "London",
        "postal_code": "NW1 6XE",
        "country": "GB",
        "locale": "en-GB",
        "optin_newsletter": True,
        "optin_partners": False,
        "loyalty_id": "LOY-100987",
    },
    "chloe": {
        "subject": "c41e9f7a-2b6d-4e1f-8c3a-5d9b0e7f1a03",
        "first_name": "Chloé",
        "last_name": "Dubois-Lefèvre",
        "email": "chloe.dubois@example.org",
        "gender": "other",
        "birthdate": "1985-11-30",
        "phone_number": "+33 6 12 34 56 78",
        "street_address": "12 avenue des Champs-Élysées",
        "locality": "Paris",
        "postal_code": "75008",
        "country": "France",
        "locale": "fr",
        "optin_newsletter": False,
        "optin_partners": False,
        "loyalty_id": "",
    },
}
