"""An IdP (or webhook receiver) whose TLS certificate is not trusted is never talked to: the
handshake fails before a byte of the request (a client secret in a token POST) is sent."""

import datetime
import http.server
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import kept_alive_session, send
from tests.local_server import QuietHandler, serving


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Handler(QuietHandler):
    def do_POST(self):
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def untrusted_idp(tmp_path, settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    cert_file, key_file = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server, scheme="https"):
        yield server


@pytest.mark.parametrize("purpose", [Purpose.IDP, Purpose.WEBHOOK])
def test_an_untrusted_certificate_stops_the_call_before_the_request(untrusted_idp, purpose):
    url = f"https://127.0.0.1:{untrusted_idp.server_address[1]}/token"
    with pytest.raises(EgressError) as refused:
        send(
            "POST",
            url,
            purpose=purpose,
            timeout=(2, 2),
            total_timeout=4,
            data={"client_secret": "never-sent"},
            session=kept_alive_session(purpose) if purpose == Purpose.IDP else None,
        )
    assert refused.value.reason == "tls"
    assert untrusted_idp.requests == []
