import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What start-up built (settings, apps, models, and the URLconf with every view, loaded here
# rather than by the first request) lives as long as the process. gc.freeze() puts it out of
# the garbage collector's reach: otherwise each full collection walks all of it again, every
# few hundred requests (BENCHMARKS.md, "Fourth round").
get_resolver().url_patterns  # noqa: B018 (imports the views now)
gc.freeze()
