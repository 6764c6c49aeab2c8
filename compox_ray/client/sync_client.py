"""Client: the operations of operations.py over httpx.Client, for scripts and notebooks.

    from compox_ray import Client
    client = Client("http://127.0.0.1:5481")              # or $COMPOX_RAY_URL, token $COMPOX_RAY_TOKEN
    denoised = client.run("denoise_3d", volume, {"sigma": 1.5})["image"]
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import httpx

from compox_ray.client.calls import (STOP_TIMEOUT_S, STREAM_READ_TIMEOUT_S, TERMINAL, Batch, Call, EventStream,
                                     Follow, RetryPolicy, connection_settings, decode_answer, events_unsupported,
                                     poll_intervals, should_retry, stop_message, unreachable)
from compox_ray.client.errors import CompoxRayError
from compox_ray.client.operations import Operations
from compox_ray.client.progress import RunProgress


def _sync(operation):
    @functools.wraps(operation)
    def method(self, *args, **kwargs):
        return self._drive(operation(self._operations, *args, **kwargs))
    return method


class Client:
    """Numpy in and out over Compox's REST API (see operations.py for each method).

    ``retries``: attempts of a call that is safe to repeat, after a 503 or a dropped connection,
    with exponential backoff from ``backoff_s``. ``progress``: show progress bars while waiting
    (each call may say otherwise)."""

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout_s: float = 300.0,
                 retries: int = 5, backoff_s: float = 0.25, progress: bool = True):
        self.url, headers = connection_settings(url, token)
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)
        self.retry_policy = RetryPolicy(attempts=max(1, retries), base_s=backoff_s)
        self.progress = progress
        self._operations = Operations()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- the methods: one per operation ---------------------------------------------------------
    info = _sync(Operations.info)
    upload = _sync(Operations.upload)
    upload_slices = _sync(Operations.upload_slices)
    download = _sync(Operations.download)
    download_slices = _sync(Operations.download_slices)
    download_to = _sync(Operations.download_to)
    delete = _sync(Operations.delete)
    algorithms = _sync(Operations.algorithms)
    algorithm = _sync(Operations.algorithm)
    deploy = _sync(Operations.deploy)
    export = _sync(Operations.export)
    run = _sync(Operations.run)
    wait = _sync(Operations.wait)
    status = _sync(Operations.status)
    stop = _sync(Operations.stop)
    executions = _sync(Operations.executions)
    create_sample = _sync(Operations.create_sample)
    sample = _sync(Operations.sample)
    samples = _sync(Operations.samples)
    delete_sample = _sync(Operations.delete_sample)
    train = _sync(Operations.train)
    checkpoint = _sync(Operations.checkpoint)
    checkpoints = _sync(Operations.checkpoints)
    delete_checkpoint = _sync(Operations.delete_checkpoint)

    # -- the transport ----------------------------------------------------------------------------
    def _drive(self, operation):
        try:
            request = next(operation)
            while True:
                try:
                    answer = self._answer(request)
                except CompoxRayError as error:
                    request = operation.throw(error)
                else:
                    request = operation.send(answer)
        except StopIteration as finished:
            return finished.value
        finally:
            operation.close()

    def _answer(self, request):
        if isinstance(request, Call):
            return self._send(request)
        if isinstance(request, Batch):
            return [self._send(call) for call in request.calls]
        if isinstance(request, Follow):
            return self._follow(request)
        raise TypeError(f"unknown request {request!r}")

    def _send(self, call: Call):
        attempt = 0
        while True:
            attempt += 1
            try:
                if call.save_to is not None:
                    response = self._save(call)
                    if response is None:
                        return call.save_to
                else:
                    response = self._request(call)
            except httpx.TransportError as error:
                if not should_retry(call, attempt, self.retry_policy, error=error):
                    raise unreachable(self.url, error) from None
                time.sleep(self.retry_policy.delay(attempt))
                continue
            if should_retry(call, attempt, self.retry_policy, response=response):
                time.sleep(self.retry_policy.delay(attempt, response))
                continue
            return decode_answer(call, response)

    def _request(self, call: Call) -> httpx.Response:
        kwargs = {"params": call.params, "headers": call.headers}
        if call.timeout_s is not None:
            kwargs["timeout"] = call.timeout_s
        if call.json is not None:
            kwargs["json"] = call.json
        if isinstance(call.content, Path):
            with open(call.content, "rb") as body:
                return self.http.request(call.method, call.path, content=body, **kwargs)
        return self.http.request(call.method, call.path, content=call.content, **kwargs)

    def _save(self, call: Call) -> httpx.Response | None:
        """Stream the answer into a file beside the target, then move it there (None); an error
        answer is returned, read."""
        partial = call.save_to.with_name(call.save_to.name + ".partial")
        with self.http.stream(call.method, call.path, params=call.params, headers=call.headers) as response:
            if response.status_code >= 400:
                response.read()
                return response
            call.save_to.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        partial.replace(call.save_to)
        return None

    # -- following a run ------------------------------------------------------------------------
    def _follow(self, follow: Follow) -> dict:
        bar = RunProgress(follow.label, self.progress if follow.progress is None else follow.progress,
                          follow.on_update)
        try:
            return self._follow_events(follow, bar)
        except KeyboardInterrupt:
            bar.close()
            self._stop_interrupted(follow)
            raise
        finally:
            bar.close()

    def _follow_events(self, follow: Follow, bar: RunProgress) -> dict:
        stream, failures, unsupported = EventStream(), 0, False
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_TIMEOUT_S)
        while not unsupported:
            last_error = None
            try:
                with self.http.stream("GET", f"{follow.record_path}/events", headers=stream.headers(),
                                      timeout=timeout) as response:
                    if response.status_code >= 400:
                        response.read()
                    unsupported = events_unsupported(response)
                    if response.status_code >= 400 and response.status_code != 503 and not unsupported:
                        raise CompoxRayError.from_response(response)
                    if response.status_code == 200:
                        for line in response.iter_lines():
                            if (record := stream.feed(line)) is not None:
                                failures = 0
                                bar.update(record)
                                if record["status"] in TERMINAL:
                                    return record
            except httpx.TransportError as error:
                last_error = error
            if unsupported:
                break
            # A 503, a broken connection or a stream that ended early: reconnect from the last event.
            failures += 1
            if failures >= self.retry_policy.attempts:
                if isinstance(last_error, httpx.ConnectError):
                    raise unreachable(self.url, last_error) from None
                break  # events keep breaking: reading the record may still work
            time.sleep(self.retry_policy.delay(failures))
        return self._poll(follow, bar)

    def _poll(self, follow: Follow, bar: RunProgress) -> dict:
        for interval in poll_intervals():
            record = self._send(Call("GET", follow.record_path, retry=True))
            bar.update(record)
            if record["status"] in TERMINAL:
                return record
            time.sleep(interval)

    def _stop_interrupted(self, follow: Follow) -> None:
        """Ctrl-C while waiting: the run is stopped on the server (one try, briefly), then the
        interrupt goes on."""
        try:
            response = self.http.post(f"{follow.record_path}/stop", timeout=STOP_TIMEOUT_S)
        except httpx.HTTPError as error:
            print(f"compox-ray: interrupted; could not stop {follow.kind} {follow.run_id}: {error}", file=sys.stderr)
            return
        print(stop_message(follow, response), file=sys.stderr)
