"""The AI/ML API client as a package.

``request`` builds and validates the body, ``client`` posts it with retries and backoff,
``response`` reads answers and error statuses, ``download`` fetches the images safely. Only the
names other modules import are re-exported here; everything else comes from its own submodule.
"""

from bot.api.client import AimlApiClient, GenerationResult
from bot.api.download import GeneratedImage
from bot.api.request import GenerationRequest

__all__ = ["AimlApiClient", "GeneratedImage", "GenerationRequest", "GenerationResult"]
