"""``makemessages`` without fuzzy matching: a new message gets an empty translation, never
a guess taken from a similar one ("Team created" is not "创建时间")."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
