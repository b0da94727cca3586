"""The FastAPI application of the simulator: one server, one port, serving the executor API,
the Pusher WebSocket (``/app/{key}``), the Pusher HTTP events API and the ``/sim`` controls.

Every error answer is ``{"error": "..."}`` with the status of the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from trademaestro.platform.sim import routes_control, routes_executor, routes_pusher
from trademaestro.platform.sim.config import SimulatorConfig
from trademaestro.platform.sim.core import ApiError, Simulator


def create_app(config: SimulatorConfig, simulator: Simulator | None = None) -> FastAPI:
    """Build the ASGI app; ``app.state.sim`` is the :class:`Simulator` (``simulator`` when
    given, else a new one for ``config``)."""
    sim = simulator or Simulator(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sim.started()
        yield
        await sim.shutdown()

    app = FastAPI(title="TradeMaestro platform simulator", lifespan=lifespan,
                  docs_url="/sim/docs", redoc_url=None, openapi_url="/sim/openapi.json")
    app.state.sim = sim

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": str(exc.errors())}, status_code=400)

    @app.websocket("/app/{app_key}")
    async def pusher_socket(websocket: WebSocket, app_key: str) -> None:
        await sim.hub.serve(websocket, app_key)

    app.include_router(routes_executor.router)
    app.include_router(routes_pusher.router)
    app.include_router(routes_control.router)
    return app
