"""The host's side of the Functions host-worker protocol, for the worker test: the ``FunctionRpc``
gRPC service the worker connects to, and the requests the .NET host sends, shaped as it sends them.

:func:`compile_protocol` compiles ``function_rpc.proto`` with grpcio-tools into a directory (the
worker's process gets the same modules on its ``PYTHONPATH``). :class:`FunctionsHost` serves the
event stream on 127.0.0.1, starts the worker process with the host's command line, and offers
``init``, ``metadata``, ``load`` and ``invoke``, each waiting for its response (never a fixed sleep).
:func:`kafka_batch` builds what the Kafka extension hands a ``cardinality: many``, ``dataType:
string`` trigger: one JSON string per message with ``Offset``, ``Partition``, ``Topic``,
``Timestamp``, ``Key``, ``Value`` and ``Headers``, and the ``*Array`` trigger metadata.
"""

from __future__ import annotations

import importlib
import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
PROTO = HERE / "function_rpc.proto"
PROXY = HERE / "proxy_worker.py"
HOST_VERSION = "4.1040.300"  # a 4.x host: the version it reports in WorkerInitRequest
# what a 4.x host announces in WorkerInitRequest.capabilities
HOST_CAPABILITIES = {"RpcHttpBodyOnly": "true", "RpcHttpTriggerMetadataRemoved": "true", "TypedDataCollection": "true"}


def compile_protocol(out: Path) -> tuple[ModuleType, ModuleType]:
    """``function_rpc_pb2`` and ``function_rpc_pb2_grpc`` compiled into ``out`` and imported."""
    import grpc_tools
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    includes = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(
        ["protoc", f"-I{HERE}", f"-I{includes}", f"--python_out={out}", f"--grpc_python_out={out}", str(PROTO)]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} ({code})")
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("function_rpc_pb2"), importlib.import_module("function_rpc_pb2_grpc")
    finally:
        sys.path.remove(str(out))


@dataclass
class Batch:
    input_data: list[Any]
    trigger_metadata: dict[str, Any]


class FunctionsHost:
    """The event stream's server end and one worker process behind it."""

    def __init__(self, pb: ModuleType, pb_grpc: ModuleType) -> None:
        import grpc

        self.pb = pb
        self.worker_id = str(uuid.uuid4())
        self.start_request_id = str(uuid.uuid4())
        self.received: list[Any] = []
        self.logs: list[Any] = []
        self._cond = threading.Condition()
        self._out: queue.Queue[Any] = queue.Queue()
        self.connected = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.functions: dict[str, Any] = {}  # name -> RpcFunctionMetadata

        host = self

        class Servicer(pb_grpc.FunctionRpcServicer):  # type: ignore[misc,name-defined]
            def EventStream(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
                first = next(request_iterator)
                if first.WhichOneof("content") != "start_stream" or first.start_stream.worker_id != host.worker_id:
                    raise RuntimeError(f"the worker did not start with StartStream({host.worker_id}): {first}")
                threading.Thread(target=host._read, args=(request_iterator,), daemon=True).start()
                host.connected.set()
                while (msg := host._out.get()) is not None:
                    yield msg

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_FunctionRpcServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _read(self, stream: Iterator[Any]) -> None:
        try:
            for msg in stream:
                with self._cond:
                    if msg.WhichOneof("content") == "rpc_log":
                        self.logs.append(msg.rpc_log)
                    else:
                        self.received.append(msg)
                    self._cond.notify_all()
        except Exception:
            pass

    # -- the worker process ---------------------------------------------------------------------

    def worker_args(self) -> list[str]:
        """The command line the host gives a language worker: its gRPC endpoint and the ids to echo back."""
        return [
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workerId",
            self.worker_id,
            "--requestId",
            self.start_request_id,
            "--grpcMaxMessageLength",
            "2147483647",
        ]

    def start_worker(self, python: Path, cwd: Path, env: dict[str, str], log: Path) -> None:
        """The worker started as the host starts it (``python proxy_worker.py`` and the host's arguments)."""
        self.start_process([str(python), str(PROXY), *self.worker_args()], cwd, env, log)

    def start_process(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        """Any command that runs a worker (a container, say); returns once it opened the event stream."""
        self._log = log.open("wb")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not self.connected.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not open the event stream:\n{log.read_text()[-4000:]}")

    def stop(self) -> None:
        self._out.put(None)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.server.stop(grace=1)
        if getattr(self, "_log", None):
            self._log.close()

    # -- requests -------------------------------------------------------------------------------

    def send(self, **content: Any) -> str:
        rid = str(uuid.uuid4())
        self._out.put(self.pb.StreamingMessage(request_id=rid, **content))
        return rid

    def wait(self, match: Callable[[Any], bool], timeout: float = 120, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.received:
                    if match(msg):
                        self.received.remove(msg)
                        return msg
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    raise AssertionError(f"no {what} from the worker; logs: {[lg.message for lg in self.logs][-20:]}")
                self._cond.wait(min(left, 0.5))

    def init(self, app_dir: Path) -> Any:
        self.send(
            worker_init_request=self.pb.WorkerInitRequest(
                host_version=HOST_VERSION,
                capabilities=HOST_CAPABILITIES,
                function_app_directory=str(app_dir),
                worker_directory=str(HERE),
            )
        )
        msg = self.wait(lambda m: m.WhichOneof("content") == "worker_init_response", what="WorkerInitResponse")
        return msg.worker_init_response

    def metadata(self, app_dir: Path) -> Any:
        rid = self.send(
            functions_metadata_request=self.pb.FunctionsMetadataRequest(function_app_directory=str(app_dir))
        )
        msg = self.wait(
            lambda m: m.WhichOneof("content") == "function_metadata_response" and m.request_id == rid,
            what="FunctionMetadataResponse",
        )
        return msg.function_metadata_response

    def load(self, meta: Any) -> Any:
        self.send(function_load_request=self.pb.FunctionLoadRequest(function_id=meta.function_id, metadata=meta))
        msg = self.wait(
            lambda m: (
                m.WhichOneof("content") == "function_load_response"
                and m.function_load_response.function_id == meta.function_id
            ),
            what=f"FunctionLoadResponse for {meta.name}",
        )
        self.functions[meta.name] = meta
        return msg.function_load_response

    def invoke(
        self,
        name: str,
        input_data: list[Any],
        trigger_metadata: dict[str, Any],
        *,
        traceparent: str = "",
        retry: tuple[int, int] | None = None,
    ) -> Any:
        """One InvocationRequest (trace and retry context as the host sets them); its response."""
        invocation_id = str(uuid.uuid4())
        req = self.pb.InvocationRequest(
            invocation_id=invocation_id,
            function_id=self.functions[name].function_id,
            input_data=input_data,
            trigger_metadata=trigger_metadata,
            trace_context=self.pb.RpcTraceContext(trace_parent=traceparent, trace_state="", attributes={}),
        )
        if retry is not None:
            req.retry_context.CopyFrom(self.pb.RetryContext(retry_count=retry[0], max_retry_count=retry[1]))
        self.send(invocation_request=req)
        msg = self.wait(
            lambda m: (
                m.WhichOneof("content") == "invocation_response"
                and m.invocation_response.invocation_id == invocation_id
            ),
            what=f"InvocationResponse for {name}",
        )
        return msg.invocation_response

    def logs_of(self, invocation_id: str) -> list[str]:
        with self._cond:
            return [lg.message for lg in self.logs if lg.invocation_id == invocation_id]

    # -- invocation payloads --------------------------------------------------------------------

    def sys_metadata(self, method: str) -> Any:
        now = datetime.now(UTC).isoformat()
        return self.pb.TypedData(json=json.dumps({"MethodName": method, "UtcNow": now, "RandGuid": str(uuid.uuid4())}))

    def kafka_batch(self, function: str, topic: str, messages: list[tuple[str, int, int, str]]) -> Batch:
        """``messages``: (key, partition, offset, value); as the Kafka extension sends a MANY/string batch."""
        pb = self.pb
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        headers = [[{"Key": "content-type", "Value": "YXBwbGljYXRpb24vY2xvdWRldmVudHMranNvbg=="}] for _ in messages]
        events = [
            json.dumps(
                {
                    "Offset": offset,
                    "Partition": partition,
                    "Topic": topic,
                    "Timestamp": stamp,
                    "Key": key,
                    "Value": value,
                    "Headers": headers[i],
                }
            )
            for i, (key, partition, offset, value) in enumerate(messages)
        ]
        binding = pb.ParameterBinding(
            name="events", data=pb.TypedData(collection_string=pb.CollectionString(string=events))
        )
        meta = {
            "KeyArray": pb.TypedData(json=json.dumps([k for k, _, _, _ in messages])),
            "PartitionArray": pb.TypedData(json=json.dumps([p for _, p, _, _ in messages])),
            "OffsetArray": pb.TypedData(collection_sint64=pb.CollectionSInt64(sint64=[o for _, _, o, _ in messages])),
            "TopicArray": pb.TypedData(collection_string=pb.CollectionString(string=[topic] * len(messages))),
            "TimestampArray": pb.TypedData(json=json.dumps([stamp] * len(messages))),
            "HeadersArray": pb.TypedData(json=json.dumps(headers)),
            "sys": self.sys_metadata(function),
        }
        return Batch([binding], meta)
