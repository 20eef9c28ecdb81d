"""The worker side of the Functions host's event stream, for the worker test (run by Python 3.13).

In the ``4-python3.13`` base image the host starts a *proxy worker* (shipped inside the image, not
on the package index) that opens the gRPC stream, wraps each request and hands it to the worker
library, ``azure_functions_runtime``, which does the real work: it indexes ``function_app.py``,
builds the binding metadata, converts the invocation's typed data into ``func.KafkaEvent`` and
``func.HttpRequest`` objects, runs the function and encodes its result. This module is that thin
proxy, doing what the image's does and no more: the same command line as the host gives a worker,
``StartStream`` first, the app's folder on ``sys.path`` at init, one task per request, the library's
handlers called with ``request`` (the ``StreamingMessage``) and ``properties`` (``protos``, ``host``),
responses and logs (``RpcLog``) back on the stream. Everything the test checks is decided by the
library and the app, not here.

Run as ``python proxy_worker.py --host H --port P --workerId W --requestId R`` with the compiled
protocol modules (``function_rpc_pb2``, ``function_rpc_pb2_grpc``) on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import logging
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import function_rpc_pb2 as protos  # type: ignore[import-not-found]
import function_rpc_pb2_grpc as services  # type: ignore[import-not-found]
import grpc

_STOP = object()
_invocation: contextvars.ContextVar[str | None] = contextvars.ContextVar("invocation_id", default=None)


@dataclass
class WorkerRequest:
    """What the library's handlers take: the message and, for init, the protocol module and host."""

    name: str
    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


class StreamLogHandler(logging.Handler):
    """Every log record goes to the host as an ``RpcLog`` (with the invocation it belongs to)."""

    def __init__(self, out: queue.Queue[Any], request_id: str) -> None:
        super().__init__()
        self.out = out
        self.request_id = request_id

    def emit(self, record: logging.LogRecord) -> None:
        level = {
            logging.CRITICAL: protos.RpcLog.Critical,
            logging.ERROR: protos.RpcLog.Error,
            logging.WARNING: protos.RpcLog.Warning,
            logging.INFO: protos.RpcLog.Information,
        }.get(record.levelno, protos.RpcLog.Debug)
        system = record.name.startswith(("azure_functions_worker", "azure_functions_runtime", "azure.functions"))
        log = protos.RpcLog(
            level=level,
            message=self.format(record),
            category=record.name,
            log_category=protos.RpcLog.System if system else protos.RpcLog.User,
            invocation_id=_invocation.get() or "",
        )
        self.out.put(protos.StreamingMessage(request_id=self.request_id, rpc_log=log))


class Proxy:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: queue.Queue[Any] = queue.Queue()
        self.library: Any = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        options = []
        if self.args.grpc_max_message_length:
            options += [
                ("grpc.max_receive_message_length", self.args.grpc_max_message_length),
                ("grpc.max_send_message_length", self.args.grpc_max_message_length),
            ]
        channel = grpc.insecure_channel(f"{self.args.host}:{self.args.port}", options)
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = services.FunctionRpcStub(channel)
        self.out.put(
            protos.StreamingMessage(
                request_id=self.args.request_id, start_stream=protos.StartStream(worker_id=self.args.worker_id)
            )
        )

        def outgoing() -> Any:
            while (msg := self.out.get()) is not _STOP:
                yield msg

        stream = stub.EventStream(outgoing())
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(StreamLogHandler(self.out, self.args.request_id))

        def pump() -> None:
            try:
                for message in stream:
                    loop.call_soon_threadsafe(loop.create_task, self.dispatch(message))
            except grpc.RpcError:
                pass  # the host closed the stream
            finally:
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        threading.Thread(target=pump, name="grpc-pump", daemon=True).start()
        try:
            await done
        finally:
            self.out.put(_STOP)
            stop = getattr(self.library, "stop_threadpool_executor", None)
            if callable(stop):
                stop()

    async def dispatch(self, message: Any) -> None:
        kind = message.WhichOneof("content")
        rid = self.args.request_id
        if kind == "worker_init_request":
            import azure_functions_runtime as library  # what the base image loads for a v2 app

            # the app's folder (the script root) first on the path, as the image's proxy worker puts it
            app_dir = message.worker_init_request.function_app_directory
            if app_dir and app_dir not in sys.path:
                sys.path.insert(0, app_dir)

            self.library = library
            start = getattr(library, "start_threadpool_executor", None)
            if callable(start):
                start()
            props = {"protos": protos, "host": self.args.host}
            resp = await library.worker_init_request(WorkerRequest("WorkerInitRequest", message, props))
            reply = protos.StreamingMessage(request_id=rid, worker_init_response=resp)
        elif kind == "function_environment_reload_request":
            props = {"protos": protos, "host": self.args.host}
            resp = await self.library.function_environment_reload_request(
                WorkerRequest("FunctionEnvironmentReloadRequest", message, props)
            )
            reply = protos.StreamingMessage(request_id=rid, function_environment_reload_response=resp)
        elif kind == "functions_metadata_request":
            resp = await self.library.functions_metadata_request(WorkerRequest("WorkerMetadataRequest", message))
            reply = protos.StreamingMessage(request_id=message.request_id, function_metadata_response=resp)
        elif kind == "function_load_request":
            resp = await self.library.function_load_request(WorkerRequest("FunctionLoadRequest", message))
            reply = protos.StreamingMessage(request_id=rid, function_load_response=resp)
        elif kind == "invocation_request":
            _invocation.set(message.invocation_request.invocation_id)
            resp = await self.library.invocation_request(WorkerRequest("FunctionInvocationRequest", message))
            reply = protos.StreamingMessage(request_id=rid, invocation_response=resp)
        elif kind == "worker_status_request":
            reply = protos.StreamingMessage(
                request_id=message.request_id, worker_status_response=protos.WorkerStatusResponse()
            )
        else:
            logging.getLogger("azure_functions_worker").error("unknown message %s", kind)
            return
        self.out.put(reply)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workerId", "--functions-worker-id", dest="worker_id", required=True)
    ap.add_argument("--requestId", "--functions-request-id", dest="request_id", required=True)
    ap.add_argument(
        "--grpcMaxMessageLength", "--functions-grpc-max-message-length", dest="grpc_max_message_length", type=int
    )
    args, _unknown = ap.parse_known_args(argv)  # the host passes more (--functions-uri, ...)
    return args


if __name__ == "__main__":
    asyncio.run(Proxy(parse_args(sys.argv[1:])).run())
