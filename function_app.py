"""The Azure Functions app (Python v2 programming model). It only composes the blueprints.

With ``FUNCTIONS_METRICS_PORT`` set (the chart sets it on the event-function pods, together with
``FUNCTIONS_WORKER_PROCESS_COUNT=1`` so one worker process holds all the counts) the worker serves the
functions' Prometheus metrics on that port, started once per process when the worker imports this
module (a failure to bind only logs a warning; see ``functions/_metrics.py``). The gateway, which
imports this module for its local functions host, never sets it: it serves ``/metrics`` itself.
"""

import azure.functions as func

from functions import _metrics, audit_append, http_api, recurrence_due, reminder_fire, task_events

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(http_api.bp)
app.register_functions(task_events.bp)
app.register_functions(recurrence_due.bp)
app.register_functions(reminder_fire.bp)
app.register_functions(audit_append.bp)

_metrics.start_metrics_server()
