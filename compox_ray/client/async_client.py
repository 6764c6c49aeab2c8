"""AsyncClient: the operations of operations.py over httpx.AsyncClient, for notebooks that run
many jobs at once.

    async with AsyncClient(url) as client:
        results = await asyncio.gather(*(client.run("denoise_3d", v, progress=False) for v in volumes))

Same methods and answers as Client. Cancelling a task that waits for a run (or Ctrl-C, which
cancels it) stops that run on the server. The uploads and downloads of one call go at once, up to
``concurrency`` at a time.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

import httpx

from compox_ray.client.calls import (STOP_TIMEOUT_S, STREAM_READ_TIMEOUT_S, TERMINAL, Batch, Call, EventStream,
                                     Follow, RetryPolicy, connection_settings, decode_answer, events_unsupported,
                                     poll_intervals, should_retry, stop_message, unreachable)
from compox_ray.client.errors import CompoxRayError
from compox_ray.client.operations import Operations
from compox_ray.client.progress import RunProgress

_CHUNK_BYTES = 4 * 2**20


def _async(operation):
    @functools.wraps(operation)
    async def method(self, *args, **kwargs):
        return await self._drive(operation(self._operations, *args, **kwargs))
    return method


class AsyncClient:
    def __init__(self, url: str | None = None, token: str | None = None, *, timeout_s: float = 300.0,
                 retries: int = 5, backoff_s: float = 0.25, progress: bool = True, concurrency: int = 8):
        self.url, headers = connection_settings(url, token)
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s)
        self.retry_policy = RetryPolicy(attempts=max(1, retries), base_s=backoff_s)
        self.progress = progress
        self._transfers = asyncio.Semaphore(concurrency)
        self._operations = Operations()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"

    info = _async(Operations.info)
    upload = _async(Operations.upload)
    upload_slices = _async(Operations.upload_slices)
    download = _async(Operations.download)
    download_slices = _async(Operations.download_slices)
    download_to = _async(Operations.download_to)
    delete = _async(Operations.delete)
    algorithms = _async(Operations.algorithms)
    algorithm = _async(Operations.algorithm)
    deploy = _async(Operations.deploy)
    export = _async(Operations.export)
    run = _async(Operations.run)
    wait = _async(Operations.wait)
    status = _async(Operations.status)
    stop = _async(Operations.stop)
    executions = _async(Operations.executions)
    create_sample = _async(Operations.create_sample)
    sample = _async(Operations.sample)
    samples = _async(Operations.samples)
    delete_sample = _async(Operations.delete_sample)
    train = _async(Operations.train)
    checkpoint = _async(Operations.checkpoint)
    checkpoints = _async(Operations.checkpoints)
    delete_checkpoint = _async(Operations.delete_checkpoint)

    # -- the transport ----------------------------------------------------------------------------
    async def _drive(self, operation):
        try:
            request = next(operation)
            while True:
                try:
                    answer = await self._answer(request)
                except CompoxRayError as error:
                    request = operation.throw(error)
                else:
                    request = operation.send(answer)
        except StopIteration as finished:
            return finished.value
        finally:
            operation.close()

    async def _answer(self, request):
        if isinstance(request, Call):
            return await self._send(request)
        if isinstance(request, Batch):
            return list(await asyncio.gather(*(self._send_limited(call) for call in request.calls)))
        if isinstance(request, Follow):
            return await self._follow(request)
        raise TypeError(f"unknown request {request!r}")

    async def _send_limited(self, call: Call):
        async with self._transfers:
            return await self._send(call)

    async def _send(self, call: Call):
        attempt = 0
        while True:
            attempt += 1
            try:
                if call.save_to is not None:
                    response = await self._save(call)
                    if response is None:
                        return call.save_to
                else:
                    response = await self._request(call)
            except httpx.TransportError as error:
                if not should_retry(call, attempt, self.retry_policy, error=error):
                    raise unreachable(self.url, error) from None
                await asyncio.sleep(self.retry_policy.delay(attempt))
                continue
            if should_retry(call, attempt, self.retry_policy, response=response):
                await asyncio.sleep(self.retry_policy.delay(attempt, response))
                continue
            return decode_answer(call, response)

    async def _request(self, call: Call) -> httpx.Response:
        kwargs = {"params": call.params, "headers": call.headers}
        if call.timeout_s is not None:
            kwargs["timeout"] = call.timeout_s
        if call.json is not None:
            kwargs["json"] = call.json
        content = _file_chunks(call.content) if isinstance(call.content, Path) else call.content
        return await self.http.request(call.method, call.path, content=content, **kwargs)

    async def _save(self, call: Call) -> httpx.Response | None:
        """Stream the answer into a file beside the target, then move it there (None); an error
        answer is returned, read."""
        partial = call.save_to.with_name(call.save_to.name + ".partial")
        async with self.http.stream(call.method, call.path, params=call.params, headers=call.headers) as response:
            if response.status_code >= 400:
                await response.aread()
                return response
            call.save_to.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as out:
                async for chunk in response.aiter_bytes():
                    await asyncio.to_thread(out.write, chunk)
        partial.replace(call.save_to)
        return None

    # -- following a run ------------------------------------------------------------------------
    async def _follow(self, follow: Follow) -> dict:
        bar = RunProgress(follow.label, self.progress if follow.progress is None else follow.progress,
                          follow.on_update)
        try:
            return await self._follow_events(follow, bar)
        except (KeyboardInterrupt, asyncio.CancelledError):
            bar.close()
            await asyncio.shield(self._stop_interrupted(follow))
            raise
        finally:
            bar.close()

    async def _follow_events(self, follow: Follow, bar: RunProgress) -> dict:
        stream, failures, unsupported = EventStream(), 0, False
        timeout = httpx.Timeout(self.http.timeout.connect, read=STREAM_READ_TIMEOUT_S)
        while not unsupported:
            last_error = None
            try:
                async with self.http.stream("GET", f"{follow.record_path}/events", headers=stream.headers(),
                                            timeout=timeout) as response:
                    if response.status_code >= 400:
                        await response.aread()
                    unsupported = events_unsupported(response)
                    if response.status_code >= 400 and response.status_code != 503 and not unsupported:
                        raise CompoxRayError.from_response(response)
                    if response.status_code == 200:
                        async for line in response.aiter_lines():
                            if (record := stream.feed(line)) is not None:
                                failures = 0
                                bar.update(record)
                                if record["status"] in TERMINAL:
                                    return record
            except httpx.TransportError as error:
                last_error = error
            if unsupported:
                break
            failures += 1
            if failures >= self.retry_policy.attempts:
                if isinstance(last_error, httpx.ConnectError):
                    raise unreachable(self.url, last_error) from None
                break
            await asyncio.sleep(self.retry_policy.delay(failures))
        return await self._poll(follow, bar)

    async def _poll(self, follow: Follow, bar: RunProgress) -> dict:
        for interval in poll_intervals():
            record = await self._send(Call("GET", follow.record_path, retry=True))
            bar.update(record)
            if record["status"] in TERMINAL:
                return record
            await asyncio.sleep(interval)

    async def _stop_interrupted(self, follow: Follow) -> None:
        try:
            response = await self.http.post(f"{follow.record_path}/stop", timeout=STOP_TIMEOUT_S)
        except httpx.HTTPError as error:
            print(f"compox-ray: interrupted; could not stop {follow.kind} {follow.run_id}: {error}", file=sys.stderr)
            return
        print(stop_message(follow, response), file=sys.stderr)


async def _file_chunks(path: Path):
    with open(path, "rb") as body:
        while chunk := await asyncio.to_thread(body.read, _CHUNK_BYTES):
            yield chunk
