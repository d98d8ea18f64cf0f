"""Given a notification as SNS delivers it to the mailbox queue, when local mode files it,
then the .eml holds exactly the email text the layer published and the .json the document."""

from __future__ import annotations

import email
import json

import pytest
from numberguard.domain.changes import Change
from numberguard.notify.messages import notification_for

from numberguard_ops.embedded_aws import email_text, one_line, write_mail

NUMBER = {"display_phone_number": "15550783881", "waba_id": "102290129340398", "scope": "number#106540352242922"}


@pytest.mark.parametrize("change", [
    Change("106540352242922", "LIMIT_CHANGED", 1_800_000_000, "TIER_10K (10000)", "TIER_1K (1000)",
           "flag outcome: quality still Low on day 7", "number#106540352242922", "WARNING", key="k1"),
    Change("106540352242922", "USAGE_WARNING", 1_800_000_600, None, "80%", "800 of 1000 used", None, "WARNING"),
])
def test_mail_text_is_the_published_email_text(tmp_path, change):
    published = notification_for(change, NUMBER)
    envelope = {"Type": "Notification", "MessageId": "m-1", "Subject": published.subject,
                "Message": json.dumps(published.document),
                "MessageAttributes": {"event_type": {"Type": "String", "Value": change.type},
                                      "severity": {"Type": "String", "Value": change.severity}}}
    assert email_text(published.document) == published.email
    mail = write_mail(tmp_path, envelope)
    message = email.message_from_bytes(mail.eml.read_bytes(), policy=email.policy.default)
    assert " ".join(str(message["Subject"]).split()) == published.subject
    assert message["X-Event-Type"] == change.type
    assert message.get_content().strip() == published.email.strip()
    assert json.loads(mail.eml.with_suffix(".json").read_text()) == published.document
    line = one_line(published.document)
    assert change.type in line and "+15550783881" in line and "\n" not in line


def test_a_message_that_is_not_a_document_is_still_filed(tmp_path):
    mail = write_mail(tmp_path, {"MessageId": "m-2", "Message": "plain text from another publisher"})
    assert mail.eml.exists() and "plain text from another publisher" in mail.eml.read_text()
