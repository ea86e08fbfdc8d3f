"""The SMS outbox becomes the outbox of every channel (text messages and emails), and the
in-portal inbox."""

import django.db.models.deletion
import django.utils.timezone
import portal.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_sms"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel("SmsMessage", "OutboxMessage"),
        migrations.RenameField("outboxmessage", "phone", "address"),
        migrations.RenameField("outboxmessage", "phone_masked", "address_masked"),
        migrations.RenameIndex(
            "outboxmessage", new_name="outbox_status_idx", old_name="smsmessage_status_idx"
        ),
        migrations.CreateModel(
            name="InboxMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("subject", models.CharField(max_length=200, verbose_name="subject")),
                ("text", models.TextField(blank=True, verbose_name="text")),
                ("link", models.CharField(blank=True, max_length=300, verbose_name="link")),
                ("purpose", models.CharField(max_length=32, verbose_name="purpose")),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="created"
                    ),
                ),
                ("read_at", models.DateTimeField(blank=True, null=True, verbose_name="read")),
            ],
            options={
                "verbose_name": "inbox message",
                "verbose_name_plural": "inbox messages",
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.AlterModelOptions(
            name="outboxmessage",
            options={
                "ordering": ["-created_at", "-pk"],
                "verbose_name": "outgoing message",
                "verbose_name_plural": "outgoing messages",
            },
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="channel",
            field=models.CharField(
                choices=[("sms", "Text message"), ("email", "Email")],
                default="sms",
                max_length=8,
                verbose_name="channel",
            ),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="subject",
            field=portal.fields.EncryptedCharField(blank=True, default="", verbose_name="subject"),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="address",
            field=portal.fields.EncryptedCharField(verbose_name="to"),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="address_masked",
            field=models.CharField(editable=False, max_length=100, verbose_name="to"),
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(("channel__in", ["sms", "email"])), name="outbox_channel_valid"
            ),
        ),
        migrations.AddField(
            model_name="inboxmessage",
            name="recipient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="inbox",
                to=settings.AUTH_USER_MODEL,
                verbose_name="recipient",
            ),
        ),
        migrations.AddIndex(
            model_name="inboxmessage",
            index=models.Index(fields=["recipient", "-created_at"], name="inbox_recipient_idx"),
        ),
        migrations.AddIndex(
            model_name="inboxmessage",
            index=models.Index(
                condition=models.Q(("read_at__isnull", True)),
                fields=["recipient"],
                name="inbox_unread_idx",
            ),
        ),
    ]
