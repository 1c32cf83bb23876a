"""The message intake's face: wired when LITEMAAS_REDIS_URL is set; its published schemas."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from litemaas_controller.api import keys
from litemaas_controller.api.contract import Param, promises
from litemaas_controller.config import Settings
from litemaas_controller.errors import NotFoundError
from litemaas_controller.intake import IntakeFactory, messages

routes = web.RouteTableDef()


def wire(
    app: web.Application, settings: Settings, intakes: Sequence[IntakeFactory]
) -> list[IntakeFactory]:
    """``intakes`` plus the message intake when Redis is configured (its state for readiness)."""
    if not settings.redis_url:
        return list(intakes)
    state = messages.RedisState()
    app[keys.REDIS] = state
    metrics = messages.MessageMetrics(app[keys.METRICS].registry)
    return [*intakes, messages.factory(settings, metrics, state)]


@routes.get("/api/v1/schemas/messages/{type}.json")
@promises(
    "The JSON schema of a model-change message type",
    {"200": "the schema", "404": "no such message type"},
    "JsonSchema",
    path=(Param.text("type", "a message type", enum=list(messages.TYPES)),),
)
async def message_schema(request: web.Request) -> web.Response:
    message_type = request.match_info["type"]
    if message_type not in messages.TYPES:
        raise NotFoundError(
            f"no message type {message_type!r}; the types are {', '.join(messages.TYPES)}"
        )
    return web.json_response(messages.published(message_type))
