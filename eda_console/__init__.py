# The Celery app loads with Django so ``shared_task`` and ``.delay`` use it everywhere.
from eda_console.celery import app as celery_app

__all__ = ("celery_app",)
