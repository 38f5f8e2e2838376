"""PyPI's aiosmtpd as a mail server that requires STARTTLS and SMTP AUTH.

The notification tests start it to prove that touchpoint logs in; aiosmtpd's
own command line cannot take an authenticator, so this sets one on its
Controller. Letters go to a maildir, as with `python3 -m aiosmtpd -c
aiosmtpd.handlers.Mailbox`.

Usage: smtp_auth_sink.py PORT MAILDIR CERT KEY USERNAME PASSWORD
"""

import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, username, password = sys.argv[1:7]


def authenticator(server, session, envelope, mechanism, auth_data):
    known = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == username.encode()
        and auth_data.password == password.encode()
    )
    # handled=False: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=known, handled=False)


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
controller = Controller(
    Mailbox(maildir),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=tls,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
# The test kills the process when it is done.
threading.Event().wait()
