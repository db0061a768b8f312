import signal
import threading
import time

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from predictors import jobs
from predictors.models import TrainingJob


class Command(BaseCommand):
    help = (
        "Run the training and re-evaluation jobs queued from the admin dashboard, one at a time, "
        "recording progress on each job; trained models are registered as candidate versions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is queued now, then exit.")
        parser.add_argument("--poll-seconds", type=float, default=5.0, help="How often to look for new jobs (default 5).")

    def handle(self, *args, once, poll_seconds, **options):
        if poll_seconds <= 0:
            raise CommandError(f"--poll-seconds must be a positive number; got {poll_seconds}.")
        if settings.MODEL_TRAINING_THREADS:
            torch.set_num_threads(settings.MODEL_TRAINING_THREADS)
        progress = options["verbosity"] > 0
        # A stop request (SIGTERM from a process manager) ends the running job as
        # failed, with a reason, instead of leaving it "running" forever.
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous_handler = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
        finished = failed = 0
        try:
            while True:
                for job in jobs.run_queued(progress):
                    if job.status == TrainingJob.Status.FINISHED:
                        finished += 1
                    else:
                        failed += 1
                    self.stdout.write(f"Job {job.pk} ({job}): {job.message}")
                if once:
                    break
                time.sleep(poll_seconds)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous_handler)
        self.stdout.write(f"Ran {finished + failed} job(s): {finished} finished, {failed} failed.")


def _stop(signum, frame):
    raise KeyboardInterrupt
