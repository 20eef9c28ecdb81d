"""The Azure Functions app (Python v2 programming model). It only composes the blueprints."""

import azure.functions as func

from functions import http_api

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(http_api.bp)
