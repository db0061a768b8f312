from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django_tasks.signals import task_finished

from predictors import jobs
from predictors.models import TrainingRun


class Command(BaseCommand):
    help = (
        "Run the training and re-evaluation jobs queued from the admin dashboard, one at a time, through "
        "django-tasks' database worker (db_worker), after failing the runs of workers that died; trained models "
        "are registered as candidate versions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is queued now, then exit.")
        parser.add_argument(
            "--poll-seconds", type=float, default=5.0, help="How often to look for new jobs (default 5)."
        )

    def handle(self, *args, once, poll_seconds, **options):
        if poll_seconds <= 0:
            raise CommandError(f"--poll-seconds must be a positive number; got {poll_seconds}.")
        for run in jobs.fail_abandoned():
            self.stdout.write(f"Job {run.pk} ({run}): {run.summary}")
        counts = {TrainingRun.Status.FINISHED: 0, TrainingRun.Status.FAILED: 0}

        def report(sender, task_result, **kwargs):
            if task_result.task.func is not jobs.run_job.func:
                return
            run = TrainingRun.objects.get(pk=task_result.args[0])
            counts[
                TrainingRun.Status.FINISHED if run.status == TrainingRun.Status.FINISHED else TrainingRun.Status.FAILED
            ] += 1
            self.stdout.write(f"Job {run.pk} ({run}): {run.summary}")

        task_finished.connect(report, weak=False)
        try:
            call_command(
                "db_worker",
                batch=once,
                interval=poll_seconds,
                reload=False,
                startup_delay=False,
                verbosity=max(options["verbosity"] - 1, 0),
                stdout=self.stdout,
                stderr=self.stderr,
            )
        except SystemExit:  # db_worker exits this way on SIGTERM/SIGINT while idle
            self.stdout.write("Stopped.")
        finally:
            task_finished.disconnect(report)
        finished, failed = counts[TrainingRun.Status.FINISHED], counts[TrainingRun.Status.FAILED]
        self.stdout.write(f"Ran {finished + failed} job(s): {finished} finished, {failed} failed.")
