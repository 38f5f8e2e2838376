"""PyPI's aiosmtpd as a mail server that refuses every recipient for good,
quoting the address as real servers do (`550 <a@b>: Recipient address
rejected`). The notification tests start it to prove that a permanent
refusal is final and that no address reaches a log or `deliveries`.

Usage: smtp_refusing_sink.py PORT MAILDIR
"""

import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Refusing(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


port, maildir = sys.argv[1:3]
controller = Controller(Refusing(maildir), hostname="127.0.0.1", port=int(port))
controller.start()
# The test kills the process when it is done.
threading.Event().wait()
