"""Beat's Celery app: the project's configuration and schedule (:func:`quantai.celery.configure`), none of its tasks.

Beat only needs the schedule and the broker: ``celery -A quantai.celery_beat beat``. The workers' app
(:data:`quantai.celery.app`) imports every task module and sets Django up before it starts (models, URL
configuration, every app's services), which beat would carry all day without using it. This app has no task
autodiscovery and no Django fix-up, so beat reads the settings module and nothing else of the project.

Its messages are the ones the workers' app sent: ``task_routes`` routes by task name, so each lands on the same
queue. Two headers a registered task fills from its decorator (``timelimit``, ``ignore_result``) stay empty, and a
worker reading an empty one takes the task's own value, the value the workers' app wrote
(``quantai/tests/test_celery_beat.py`` compares every scheduled message).
"""

from celery import Celery

from quantai.celery import configure

app = Celery("quantai", fixups=[])
configure(app)
