"""Report the events this machine's hand-off journal set aside because the
outbox can never store them, and refresh the count the admin dashboard shows
(after the files were renamed back or removed, say)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from events import set_aside


class Command(BaseCommand):
    help = "Count the events set aside as unstorable in EVENTS_JOURNAL_DIR (*.unstorable) and say where they are."

    def handle(self, *args, **options):
        directory = settings.EVENTS_JOURNAL_DIR
        files, events = set_aside.count(directory)
        self.stdout.write(set_aside.sentence(events, files, directory))
