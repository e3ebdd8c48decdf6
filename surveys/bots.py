"""Simulated participants that take a survey through the real HTTP pages, like oTree's bots:
for the demo, tests and pilots. Deciders: an LPIPS variant, random, or adversarial (fails
attention checks on purpose)."""

from __future__ import annotations

import io
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urljoin
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
import torch
from PIL import Image

from science.images import to_tensor
from science.perceptual import load_lpips

Decider = Callable[[torch.Tensor | None, list[torch.Tensor]], int]
"""Given the query and the options (images in [0, 1]), return the chosen option's index; in
clustering, asked once per row with the columns as options; given no query, the option that
does not belong (odd one out) or the pair's rating, 0 to 10 (rating)."""


def lpips_decider(variant: str, cache_dir: Path | None = None) -> Decider:
    """Chooses the option nearest the query by an LPIPS variant (a simulated participant)."""
    model = load_lpips(variant, cache_dir=cache_dir)

    def decide(query: torch.Tensor, options: list[torch.Tensor]) -> int:
        with torch.no_grad():
            q = query.unsqueeze(0).expand(len(options), -1, -1, -1)
            d = model(q, torch.stack(options), normalize=True).flatten()
        return int(d.argmin())

    return decide


def random_decider(seed: int = 0) -> Decider:
    rng = random.Random(seed)
    return lambda query, options: rng.randrange(len(options))


def adversarial_decider() -> Decider:
    """Picks the option least like the query: fails every attention check."""

    def decide(query: torch.Tensor, options: list[torch.Tensor]) -> int:
        return int(torch.stack([(o - query).abs().mean() for o in options]).argmax())

    return decide


@dataclass
class BotRun:
    participant: str
    answered: int
    completion_text: str


def run_bot(base_url: str, survey_uuid: str, participant: str, decide: Decider, *, timeout: float = 30) -> BotRun:
    """Take a survey as ``participant``: consent on the landing page, then answer every trial
    through the JSON endpoints the worker's page uses, downloading each image shown."""
    session = requests.Session()
    landing = urljoin(base_url, f"/s/{survey_uuid}/")
    start = session.post(landing, data={"pid": participant}, timeout=timeout)
    start.raise_for_status()
    page_url = start.url
    answered = 0
    while True:
        state = session.get(urljoin(page_url, "trial.json"), timeout=timeout).json()
        trial = state["trial"]
        if trial is None:
            break
        # Read the page as a person does, by what it shows (``Layout.payload``).
        if "options" in trial:
            # With no reference the decider picks the option that does not belong, or rates the pair.
            query = _fetch(session, urljoin(base_url, trial["query"]["url"]), timeout) if "query" in trial else None
            options = [_fetch(session, urljoin(base_url, o["url"]), timeout) for o in trial["options"]]
            answer = decide(query, options)
        else:
            # Clustering: each row goes to the column the decider picks for it.
            columns = [_fetch(session, urljoin(base_url, c["url"]), timeout) for c in trial["columns"]]
            rows = [_fetch(session, urljoin(base_url, r["url"]), timeout) for r in trial["rows"]]
            answer = [decide(row, columns) for row in rows]
        reply = session.post(
            urljoin(page_url, "answer"),
            json={
                "trial": trial["trial"],
                "answer": answer,
                "idempotency_key": uuid.uuid4().hex,
                "response_ms": 0,
                "viewing": {"bot": True},
            },
            timeout=timeout,
        )
        reply.raise_for_status()
        answered += 1
    done = session.get(page_url, timeout=timeout)
    return BotRun(participant=participant, answered=answered, completion_text=done.text)


def _fetch(session: requests.Session, url: str, timeout: float) -> torch.Tensor:
    reply = session.get(url, timeout=timeout)
    reply.raise_for_status()
    with Image.open(io.BytesIO(reply.content)) as img:
        return to_tensor(img)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve(application, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a WSGI application on loopback in a background thread; yields its base URL."""
    server = make_server(host, port, application, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
