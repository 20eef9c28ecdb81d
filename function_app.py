"""The Azure Functions app (Python v2 programming model). It only composes the blueprints."""

import azure.functions as func

from functions import audit_append, http_api, recurrence_due, reminder_fire, task_events

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(http_api.bp)
app.register_functions(task_events.bp)
app.register_functions(recurrence_due.bp)
app.register_functions(reminder_fire.bp)
app.register_functions(audit_append.bp)
